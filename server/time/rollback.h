// Rollback detection with the key store's monotonic counter (DESIGN.md §5, docs/TRUST.md).
//
// The database records the counter value it last saw (CounterRecord). The device counter
// (TPM NV counter, PKCS#11 data object, soft file) only grows. The counter is advanced at
// startup, at orderly shutdown and at every audit export, each time with the same
// crash-safe order:
//
//   1. read the device value C and the recorded value D, and judge them;
//   2. record the intended value C + 1 in the database (durable);
//   3. increment the device counter (-> C + 1).
//
// A crash between 2 and 3 leaves the database one ahead of the device, which is accepted.
// A database whose recorded value is below the device value is an older copy (restored
// backup, VM snapshot): rolled back. A database more than one ahead of the device means the
// counter itself went back or belongs to another device (counter behind).
//
// Thread safety: RollbackGuard serialises its own calls; the KeyStore and the CounterRecord
// must not be advanced by anyone else meanwhile.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "hsm/key_store.h"

namespace tessera::trust {

// Where the database keeps the counter value it last saw (the `meta` row 'counter_seen').
class CounterRecord {
 public:
  virtual ~CounterRecord() = default;
  // nullopt: nothing recorded yet (a fresh database).
  virtual Result<std::optional<uint64_t>> Load() = 0;
  // Durable when it returns OK (committed, synced).
  virtual Status Save(uint64_t value) = 0;
};

enum class RollbackState {
  kOk,             // the database is current (equal to the device, or one ahead), or fresh
  kRolledBack,     // the database is older than the device counter: an old copy was restored
  kCounterBehind,  // the database is more than one ahead: the counter went back or is another's
  kNoCounter,      // the key store has no usable counter: rollback cannot be detected
};

// "ok", "rolled_back", "counter_behind", "no_counter".
std::string_view RollbackStateName(RollbackState s);

struct RollbackVerdict {
  RollbackState state = RollbackState::kNoCounter;
  std::optional<uint64_t> database_value;  // nullopt: nothing recorded (fresh database)
  std::optional<uint64_t> device_value;    // nullopt: no counter
  bool hardware_counter = false;           // the device itself keeps the counter (TPM)
  // Set by CheckAndAdvance when it advanced: the value now in the device and the database.
  std::optional<uint64_t> advanced_to;
  // What happened and what the admin should do, in plain words (several sentences).
  std::string explanation;

  // True when the appliance may hand out seats: kOk, or kNoCounter (nothing to detect with).
  bool serving_allowed() const {
    return state == RollbackState::kOk || state == RollbackState::kNoCounter;
  }
};

// What AcceptRollback did, for the log and the audit chain.
struct RollbackAcceptance {
  std::optional<uint64_t> from;  // the database's value before (nullopt: none)
  uint64_t to = 0;               // the device value now recorded in the database
  std::string actor;
  // "rollback accepted from 41 to 57 by alice": the audit event's description.
  std::string description;
};

// "rollback accepted from 41 to 57 by alice" ("from none" when the database had no value).
std::string DescribeAcceptance(std::optional<uint64_t> from, uint64_t to, std::string_view actor);

// An acceptance's actor: 1 to 256 bytes, no control characters.
// Errors: InvalidArgument naming the problem.
Status ValidateActor(std::string_view actor);

class RollbackGuard {
 public:
  // REQUIRES: `store` and `record` outlive the guard.
  RollbackGuard(hsm::KeyStore& store, CounterRecord& record);

  // Reads and judges, changes nothing. For status output.
  // Errors: the key store's (hsm.device_gone, ...) or the record's, unchanged.
  Result<RollbackVerdict> Check();

  // Judges and, when the verdict is kOk, advances the counter by one (save intended value,
  // then increment). Call at startup, at orderly shutdown and for each audit export (the
  // export carries `advanced_to`). Any other verdict changes nothing.
  // Errors: as Check; a failure after the save leaves the database one ahead of the device,
  // which the next call accepts.
  Result<RollbackVerdict> CheckAndAdvance();

  // The admin's recovery, run together with the vendor (docs/TRUST.md): records the device
  // value in the database so that the next CheckAndAdvance is kOk.
  // Errors: FailedPrecondition when the verdict is kOk or kNoCounter (nothing to accept);
  // InvalidArgument for an empty actor; the key store's and the record's errors.
  Result<RollbackAcceptance> AcceptRollback(std::string_view actor);

 private:
  Result<RollbackVerdict> JudgeLocked();

  hsm::KeyStore& store_;
  CounterRecord& record_;
  std::mutex mu_;
};

}  // namespace tessera::trust
