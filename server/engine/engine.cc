// Placeholder implementation: the API compiles and denies everything. Replaced by the real
// engine in the following commits.
#include "server/engine/engine.h"

namespace tessera::engine {

class Engine::Impl {
 public:
  Impl(EngineOptions o, Entitlement e, Rules r)
      : options(o), entitlement(std::move(e)), rules(std::move(r)) {}
  EngineOptions options;
  Entitlement entitlement;
  Rules rules;
  std::vector<Event> events;
};

Engine::Engine(EngineOptions options, Entitlement entitlement, Rules rules)
    : impl_(std::make_unique<Impl>(options, std::move(entitlement), std::move(rules))) {}
Result<Engine> Engine::Create(EngineOptions options, Entitlement entitlement, Rules rules) {
  TESSERA_RETURN_IF_ERROR(ValidateEntitlement(entitlement));
  TESSERA_RETURN_IF_ERROR(ValidateRules(rules));
  return Engine(options, std::move(entitlement), std::move(rules));
}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

Status Engine::SetEntitlement(Entitlement entitlement, TimePoint) {
  TESSERA_RETURN_IF_ERROR(ValidateEntitlement(entitlement));
  impl_->entitlement = std::move(entitlement);
  return Status::Ok();
}
Status Engine::SetRules(Rules rules, TimePoint) {
  TESSERA_RETURN_IF_ERROR(ValidateRules(rules));
  impl_->rules = std::move(rules);
  return Status::Ok();
}
const Entitlement& Engine::entitlement() const { return impl_->entitlement; }
const Rules& Engine::rules() const { return impl_->rules; }
CheckoutOutcome Engine::Checkout(const CheckoutRequest&, TimePoint) {
  return Denied{DenialReason::kNoSeats, "not implemented yet"};
}
HeartbeatOutcome Engine::Heartbeat(LeaseId, std::string_view, TimePoint) {
  return Lost{LossReason::kUnknown};
}
CheckinOutcome Engine::Checkin(LeaseId, std::string_view, uint64_t, TimePoint) {
  return Lost{LossReason::kUnknown};
}
bool Engine::CancelQueued(QueueTicket, TimePoint) { return false; }
bool Engine::Revoke(LeaseId, std::string_view, TimePoint) { return false; }
void Engine::ExpireDue(TimePoint) {}
std::optional<TimePoint> Engine::NextDeadline() const { return std::nullopt; }
std::vector<Event> Engine::TakeEvents() { return std::move(impl_->events); }
std::vector<FeatureUsage> Engine::Usage(TimePoint) { return {}; }
std::optional<FeatureUsage> Engine::UsageOf(std::string_view, TimePoint) { return std::nullopt; }
std::vector<Lease> Engine::LeasesOf(std::string_view, TimePoint) { return {}; }
std::vector<Lease> Engine::AllLeases(TimePoint) { return {}; }
std::optional<Lease> Engine::FindLease(LeaseId, TimePoint) { return std::nullopt; }
EngineState Engine::ExportState() const { return {}; }
Status Engine::RestoreState(const EngineState&) { return Status::Ok(); }

}  // namespace tessera::engine
