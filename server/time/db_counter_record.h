// The database's record of the monotonic counter (docs/TRUST.md "The protocol"): the value
// in meta('counter_seen') of tesserad's store, for RollbackGuard. Target tessera::trust_store
// (trust over the store), used by tesserad and by `tessera audit export`.
// Thread safety: like the Store it is given (one thread at a time).
#pragma once

#include <cstdint>
#include <optional>

#include "base/status.h"
#include "server/store/store.h"
#include "server/time/rollback.h"

namespace tessera::trust {

// meta('counter_seen'), or nullopt when never written. SQLite integers are signed: the
// counter's 64 bits are stored as they are and cast back.
Result<std::optional<uint64_t>> LoadCounterSeen(store::Store& db);
// Writes it in its own committed transaction.
Status SaveCounterSeen(store::Store& db, uint64_t value);

// The record over a Store used directly (tesserad subcommands, the admin CLI).
class DbCounterRecord : public CounterRecord {
 public:
  explicit DbCounterRecord(store::Store& db) : db_(db) {}
  Result<std::optional<uint64_t>> Load() override { return LoadCounterSeen(db_); }
  Status Save(uint64_t value) override { return SaveCounterSeen(db_, value); }

 private:
  store::Store& db_;
};

}  // namespace tessera::trust
