// Waiters: strict FIFO per feature. A newcomer never overtakes a waiter of the same feature;
// freed capacity is offered to queue heads in ticket order across features, and a head
// that still does not fit blocks its own feature's queue only.
#include <algorithm>

#include "server/engine/engine_impl.h"

namespace tessera::engine {

CheckoutOutcome Engine::Impl::Enqueue(const CheckoutRequest& request, const Feature& f,
                                      TimePoint now) {
  Waiter w;
  w.ticket = next_ticket_++;
  w.request = request;
  w.deadline = now + std::min(request.queue_timeout, f.max_queue_timeout);
  std::deque<Waiter>& queue = runtime_[f.name].queue;
  queue.push_back(w);
  waiting_[w.ticket] = f.name;
  deadlines_.insert({w.deadline, DeadlineKind::kWaiter, w.ticket});
  auto position = static_cast<uint32_t>(queue.size());
  Event e;
  e.kind = EventKind::kQueued;
  e.at = now;
  e.ticket = w.ticket;
  e.feature = f.name;
  e.client = request.client;
  e.count = request.count;
  e.position = position;
  Emit(std::move(e));
  return Queued{w.ticket, position};
}

void Engine::Impl::ServeQueues(TimePoint now) {
  if (!queues_dirty_) return;
  queues_dirty_ = false;
  bool progress = true;
  while (progress) {
    progress = false;
    std::vector<std::pair<QueueTicket, std::string>> heads;
    for (const auto& [name, rt] : runtime_) {
      if (!rt.queue.empty()) heads.emplace_back(rt.queue.front().ticket, name);
    }
    std::sort(heads.begin(), heads.end());
    for (const auto& [ticket, feature] : heads) {
      if (ServeHead(feature, now)) progress = true;
    }
  }
}

// Grants or drops the head waiter of `feature`. False when it must keep waiting.
bool Engine::Impl::ServeHead(const std::string& feature, TimePoint now) {
  std::deque<Waiter>& queue = runtime_[feature].queue;
  if (queue.empty()) return false;
  Decision d = Evaluate(queue.front().request, now, /*from_queue=*/true);
  if (!d.granted && d.reason == DenialReason::kNoSeats && d.can_ever_fit) return false;
  Waiter w = std::move(queue.front());
  queue.pop_front();
  waiting_.erase(w.ticket);
  deadlines_.erase({w.deadline, DeadlineKind::kWaiter, w.ticket});
  if (d.granted) {
    Grant(w.request, *FindFeature(feature), d, now, EventKind::kDequeued, w.ticket);
  } else {
    EmitDenied(w.request, d.reason, d.detail, w.ticket, now);
  }
  return true;
}

std::optional<Waiter> Engine::Impl::RemoveWaiter(QueueTicket ticket) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return std::nullopt;
  std::deque<Waiter>& queue = runtime_[it->second].queue;
  waiting_.erase(it);
  auto pos =
      std::find_if(queue.begin(), queue.end(), [&](const Waiter& w) { return w.ticket == ticket; });
  Waiter w = std::move(*pos);
  queue.erase(pos);
  deadlines_.erase({w.deadline, DeadlineKind::kWaiter, ticket});
  queues_dirty_ = true;  // the head may have changed
  return w;
}

namespace {

Event WaiterEvent(EventKind kind, TimePoint at, const Waiter& w, DenialReason reason) {
  Event e;
  e.kind = kind;
  e.at = at;
  e.ticket = w.ticket;
  e.feature = w.request.feature;
  e.client = w.request.client;
  e.count = w.request.count;
  e.reason = reason;
  return e;
}

}  // namespace

bool Engine::Impl::CancelQueued(QueueTicket ticket, TimePoint now) {
  now = Clamp(now);
  Advance(now);
  std::optional<Waiter> w = RemoveWaiter(ticket);
  if (!w) return false;
  Emit(WaiterEvent(EventKind::kQueueCancelled, now, *w, DenialReason::kQueueCancelled));
  ServeQueues(now);
  return true;
}

void Engine::Impl::TimeoutWaiter(QueueTicket ticket, TimePoint at) {
  std::optional<Waiter> w = RemoveWaiter(ticket);
  if (!w) return;
  Emit(WaiterEvent(EventKind::kQueueTimeout, at, *w, DenialReason::kQueueTimeout));
}

}  // namespace tessera::engine
