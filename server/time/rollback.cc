#include "server/time/rollback.h"

#include <limits>
#include <utility>

#include "hsm/hsm_error.h"

namespace tessera::trust {
namespace {

constexpr size_t kMaxActorLength = 256;

std::string NoCounterExplanation(std::string_view why) {
  return std::string(why) +
         " A restored database (backup, VM snapshot) cannot be detected. Seats are served. To "
         "enable rollback detection, use a key store with a monotonic counter (a TPM keeps it "
         "in hardware) and run `tessera provision` on it.";
}

std::string FreshExplanation(uint64_t device) {
  return "No counter value is recorded in the database: it is new. It starts at device "
         "counter " +
         std::to_string(device) + ".";
}

std::string OkExplanation(uint64_t database, uint64_t device) {
  std::string out = "The database records counter " + std::to_string(database) +
                    " and the device counter is " + std::to_string(device) + ": it is current.";
  if (database == device + 1) {
    out += " (One ahead: the previous run stopped between recording and advancing the counter.)";
  }
  return out;
}

std::string RolledBackExplanation(uint64_t database, uint64_t device) {
  return "ROLLBACK: the database records counter " + std::to_string(database) +
         " but the device counter is " + std::to_string(device) + " (" +
         std::to_string(device - database) +
         " advance(s) missing). This database is an older copy (a restored backup or a VM "
         "snapshot): leases and usage recorded after it was taken are missing. No seats are "
         "handed out until an admin acts. If the newest database still exists, stop tesserad, "
         "put it back and start again. Otherwise export the audit log, send it to the vendor, "
         "and with the vendor accept the rollback (docs/TRUST.md, \"Recovering from a "
         "rollback\"); the acceptance is recorded in the audit chain.";
}

std::string CounterBehindExplanation(uint64_t database, uint64_t device) {
  return "COUNTER BEHIND: the database records counter " + std::to_string(database) +
         " but the device counter is only " + std::to_string(device) +
         ". The counter went back (a stored counter restored from an old copy, a re-created "
         "token) or this database belongs to another key store. No seats are handed out until "
         "an admin acts. Check that --key-uri names this appliance's key store; if it does, "
         "export the audit log, send it to the vendor, and with the vendor accept the rollback "
         "(docs/TRUST.md, \"Recovering from a rollback\").";
}

}  // namespace

std::string DescribeAcceptance(std::optional<uint64_t> from, uint64_t to, std::string_view actor) {
  return "rollback accepted from " + (from ? std::to_string(*from) : std::string("none")) + " to " +
         std::to_string(to) + " by " + std::string(actor);
}

Status ValidateActor(std::string_view actor) {
  if (actor.empty()) return InvalidArgument("rollback acceptance needs an actor name");
  if (actor.size() > kMaxActorLength) {
    return InvalidArgument("actor name longer than " + std::to_string(kMaxActorLength) + " bytes");
  }
  for (char c : actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("actor name contains a control character");
    }
  }
  return Status::Ok();
}

std::string_view RollbackStateName(RollbackState s) {
  switch (s) {
    case RollbackState::kOk:
      return "ok";
    case RollbackState::kRolledBack:
      return "rolled_back";
    case RollbackState::kCounterBehind:
      return "counter_behind";
    case RollbackState::kNoCounter:
      return "no_counter";
  }
  return "unknown";
}

RollbackGuard::RollbackGuard(hsm::KeyStore& store, CounterRecord& record)
    : store_(store), record_(record) {}

Result<RollbackVerdict> RollbackGuard::JudgeLocked() {
  RollbackVerdict v;
  const hsm::Capabilities caps = store_.capabilities();
  v.hardware_counter = caps.hardware_counter;
  if (!caps.monotonic_counter) {
    v.state = RollbackState::kNoCounter;
    v.explanation = NoCounterExplanation("The key store (" + std::string(store_.backend()) +
                                         ") has no monotonic counter.");
    return v;
  }
  Result<uint64_t> device = store_.ReadCounter();
  if (!device.ok()) {
    if (hsm::HsmErrorOf(device.status()) != hsm::HsmError::kCounterMissing) {
      return device.status().Annotate("reading the monotonic counter");
    }
    v.state = RollbackState::kNoCounter;
    v.explanation = NoCounterExplanation(
        "The key store's monotonic counter was never created (`tessera provision` creates it "
        "and keeps the existing key).");
    return v;
  }
  v.device_value = *device;
  Result<std::optional<uint64_t>> recorded = record_.Load();
  if (!recorded.ok()) return recorded.status().Annotate("reading the recorded counter value");
  v.database_value = *recorded;

  const uint64_t c = *device;
  if (!v.database_value) {
    v.state = RollbackState::kOk;
    v.explanation = FreshExplanation(c);
  } else if (const uint64_t d = *v.database_value; d < c) {
    v.state = RollbackState::kRolledBack;
    v.explanation = RolledBackExplanation(d, c);
  } else if (d - c <= 1) {
    v.state = RollbackState::kOk;
    v.explanation = OkExplanation(d, c);
  } else {
    v.state = RollbackState::kCounterBehind;
    v.explanation = CounterBehindExplanation(d, c);
  }
  return v;
}

Result<RollbackVerdict> RollbackGuard::Check() {
  std::lock_guard<std::mutex> lock(mu_);
  return JudgeLocked();
}

Result<RollbackVerdict> RollbackGuard::CheckAndAdvance() {
  std::lock_guard<std::mutex> lock(mu_);
  TESSERA_ASSIGN_OR_RETURN(RollbackVerdict v, JudgeLocked());
  if (v.state != RollbackState::kOk) return v;

  const uint64_t device = *v.device_value;
  if (device == std::numeric_limits<uint64_t>::max()) {
    return Internal("the monotonic counter is at its maximum and cannot advance");
  }
  // Record first, then increment: a crash in between leaves the database one ahead, which
  // JudgeLocked accepts; the other order would leave it one behind, a false rollback.
  const uint64_t intended = device + 1;
  TESSERA_RETURN_IF_ERROR(record_.Save(intended).Annotate("recording the counter value"));
  TESSERA_ASSIGN_OR_RETURN(uint64_t now, store_.IncrementCounter());
  if (now != intended) {
    // Someone else advanced the device too: record what it really holds.
    TESSERA_RETURN_IF_ERROR(record_.Save(now).Annotate("recording the counter value"));
  }
  v.advanced_to = now;
  return v;
}

Result<RollbackAcceptance> RollbackGuard::AcceptRollback(std::string_view actor) {
  TESSERA_RETURN_IF_ERROR(ValidateActor(actor));
  std::lock_guard<std::mutex> lock(mu_);
  TESSERA_ASSIGN_OR_RETURN(RollbackVerdict v, JudgeLocked());
  if (v.state == RollbackState::kOk || v.state == RollbackState::kNoCounter) {
    return FailedPrecondition("no rollback to accept (" + std::string(RollbackStateName(v.state)) +
                              "): " + v.explanation);
  }
  const uint64_t device = *v.device_value;
  TESSERA_RETURN_IF_ERROR(record_.Save(device).Annotate("recording the counter value"));
  RollbackAcceptance a;
  a.from = v.database_value;
  a.to = device;
  a.actor = std::string(actor);
  a.description = DescribeAcceptance(a.from, a.to, a.actor);
  return a;
}

}  // namespace tessera::trust
