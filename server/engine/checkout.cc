// The checkout pipeline: validation, resume and idempotent retry, then the checks in the
// documented order (docs/ENGINE.md): feature, version, dates, borrow, deny list, allow
// list, maxima, meter, reservations and capacity. A capacity shortfall may queue.
#include <algorithm>

#include "server/engine/engine_impl.h"
#include "server/engine/version.h"

namespace tessera::engine {

namespace {

Decision Deny(DenialReason reason, std::string detail, bool can_ever_fit = false) {
  Decision d;
  d.reason = reason;
  d.detail = std::move(detail);
  d.can_ever_fit = can_ever_fit;
  return d;
}

std::string Describe(const Matcher& who) {
  switch (who.kind) {
    case MatchKind::kUser:
      return "user " + who.name;
    case MatchKind::kGroup:
      return "group " + who.name;
    case MatchKind::kHost:
      return "host " + who.name;
    case MatchKind::kHostGroup:
      return "host group " + who.name;
  }
  return who.name;
}

bool AppliesTo(const AccessRule& rule, const Feature& f) {
  return rule.feature.empty() || rule.feature == f.name;
}

}  // namespace

CheckoutOutcome Engine::Impl::Checkout(const CheckoutRequest& request, TimePoint now) {
  now = Clamp(now);
  Advance(now);
  if (std::optional<Denied> bad = ValidateRequest(request)) {
    EmitDenied(request, bad->reason, bad->detail, 0, now);
    return *bad;
  }
  if (std::optional<CheckoutOutcome> existing = TryExisting(request, now)) return *existing;
  Decision d = Evaluate(request, now, /*from_queue=*/false);
  if (!d.granted) return DenyOrQueue(request, d, now);
  return Granted{Grant(request, *FindFeature(request.feature), d, now, EventKind::kGranted, 0)};
}

std::optional<Denied> Engine::Impl::ValidateRequest(const CheckoutRequest& r) const {
  auto bad = [](std::string what) { return Denied{DenialReason::kInvalidRequest, what}; };
  if (r.client.client_id.empty()) return bad("empty client id");
  if (r.feature.empty()) return bad("empty feature name");
  if (r.count == 0) return bad("count must be at least 1");
  if (r.nonce.size() > kMaxNonceBytes) return bad("nonce longer than 64 bytes");
  if (r.metered_units == 0) return bad("metered units must be at least 1");
  if (r.metered_units > kMaxMeteredUnitsPerCheckout) {
    return bad("metered units above " + std::to_string(kMaxMeteredUnitsPerCheckout));
  }
  if (r.queue_timeout.count() < 0 || r.borrow_duration.count() < 0) {
    return bad("negative duration");
  }
  if (r.resume_lease_id && *r.resume_lease_id == 0) return bad("resume lease id 0");
  if (!Version::Parse(r.version)) return bad("version '" + r.version + "' is not dotted numeric");
  return std::nullopt;
}

// Resume of a live lease, a retry with the same nonce, or reclaim of a lingering seat.
std::optional<CheckoutOutcome> Engine::Impl::TryExisting(const CheckoutRequest& r, TimePoint now) {
  if (r.resume_lease_id) {
    auto it = leases_.find(*r.resume_lease_id);
    if (it != leases_.end()) {
      Lease& lease = it->second;
      if (lease.client.client_id != r.client.client_id || lease.feature != r.feature) {
        std::string detail = "lease " + std::to_string(lease.id) + " is held by another " +
                             (lease.feature != r.feature ? "feature" : "client");
        EmitDenied(r, DenialReason::kLeaseNotResumable, detail, 0, now);
        return Denied{DenialReason::kLeaseNotResumable, detail};
      }
      Renew(lease, now, lease.lingering ? EventKind::kReclaimed : EventKind::kRenewed);
      return Granted{lease};
    }
  }
  if (!r.nonce.empty()) {
    auto it = nonces_.find({r.client.client_id, r.feature, r.nonce});
    if (it != nonces_.end()) {
      // The retry shows the client alive; its event lets a signing server prove the lease.
      Lease& lease = leases_.at(it->second);
      Renew(lease, now, EventKind::kRenewed);
      return Granted{lease};
    }
  }
  auto rt = runtime_.find(r.feature);
  if (rt == runtime_.end()) return std::nullopt;
  for (LeaseId id : rt->second.lingering) {
    Lease& lease = leases_.at(id);
    if (lease.client.client_id == r.client.client_id && lease.count == r.count &&
        lease.version == r.version && r.borrow_duration.count() == 0) {
      Renew(lease, now, EventKind::kReclaimed);
      return Granted{lease};
    }
  }
  return std::nullopt;
}

Decision Engine::Impl::Evaluate(const CheckoutRequest& r, TimePoint now, bool from_queue) const {
  const Feature* f = FindFeature(r.feature);
  if (f == nullptr) return Deny(DenialReason::kNoSuchFeature, "no feature '" + r.feature + "'");
  if (std::optional<Decision> d = CheckFeatureTerms(*f, r, now)) return *d;
  if (std::optional<Decision> d = CheckRules(*f, r)) return *d;
  if (std::optional<Decision> d = CheckMaxima(*f, r)) return *d;
  if (std::optional<Decision> d = CheckMeter(*f, r)) return *d;
  Decision d = CheckCapacity(*f, r, from_queue);
  d.in_grace = f->ends_at && now >= *f->ends_at;
  return d;
}

std::optional<Decision> Engine::Impl::CheckFeatureTerms(const Feature& f, const CheckoutRequest& r,
                                                        TimePoint now) const {
  Version v = *Version::Parse(r.version);
  if ((!f.version_min.empty() && v < *Version::Parse(f.version_min)) ||
      (!f.version_max.empty() && v > *Version::Parse(f.version_max))) {
    return Deny(DenialReason::kVersionOutOfRange,
                "version " + r.version + " outside [" + f.version_min + ", " + f.version_max + "]");
  }
  if (f.starts_at && now < *f.starts_at) {
    return Deny(DenialReason::kNotStarted, "starts " + FormatTime(*f.starts_at), true);
  }
  if (f.ends_at && now >= *f.ends_at + f.grace) {
    return Deny(DenialReason::kExpired, "ended " + FormatTime(*f.ends_at));
  }
  if (r.borrow_duration.count() > 0) {
    if (!f.borrowable) return Deny(DenialReason::kBorrowNotAllowed, "feature not borrowable");
    if (r.borrow_duration > f.max_borrow) {
      return Deny(DenialReason::kBorrowNotAllowed,
                  "borrow longer than " + std::to_string(f.max_borrow.count()) + " ms");
    }
  }
  return std::nullopt;
}

std::optional<Decision> Engine::Impl::CheckRules(const Feature& f, const CheckoutRequest& r) const {
  for (const AccessRule& rule : rules_.deny) {
    if (AppliesTo(rule, f) && rules_.Matches(rule.who, r.client)) {
      return Deny(DenialReason::kDeniedByRule, "deny list: " + Describe(rule.who));
    }
  }
  bool any_allow = false;
  for (const AccessRule& rule : rules_.allow) {
    if (!AppliesTo(rule, f)) continue;
    any_allow = true;
    if (rules_.Matches(rule.who, r.client)) return std::nullopt;
  }
  if (any_allow) return Deny(DenialReason::kDeniedByRule, "not on the allow list");
  return std::nullopt;
}

CheckoutOutcome Engine::Impl::DenyOrQueue(const CheckoutRequest& r, const Decision& d,
                                          TimePoint now) {
  std::string detail = d.detail;
  if (d.reason == DenialReason::kNoSeats && d.can_ever_fit && r.queue_timeout.count() > 0) {
    const Feature& f = *FindFeature(r.feature);
    size_t waiting = runtime_[f.name].queue.size();
    if (f.max_queue_length == 0 || f.max_queue_timeout.count() == 0) {
      detail += " (feature does not queue)";
    } else if (waiting >= f.max_queue_length) {
      detail += " (queue full)";
    } else {
      return Enqueue(r, f, now);
    }
  }
  EmitDenied(r, d.reason, detail, 0, now);
  return Denied{d.reason, detail};
}

void Engine::Impl::EmitDenied(const CheckoutRequest& r, DenialReason reason,
                              const std::string& detail, QueueTicket ticket, TimePoint now) {
  Event e;
  e.kind = EventKind::kDenied;
  e.at = now;
  e.ticket = ticket;
  e.feature = r.feature;
  e.client = r.client;
  e.count = r.count;
  e.reason = reason;
  e.detail = detail;
  Emit(std::move(e));
}

}  // namespace tessera::engine
