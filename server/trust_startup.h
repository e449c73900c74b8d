// Trusted time and rollback detection in tesserad (docs/TRUST.md "Wiring into tesserad"):
// the database's counter record through the batch writer, and the trusted-time floor from
// the newest audit block.
// Thread safety: StoreCounterRecord may be used from any thread (it runs on the writer).
#pragma once

#include "server/store/batch_writer.h"
#include "server/time/rollback.h"
#include "server/time/trusted_time.h"

namespace tessera::server {

// meta('counter_seen') in the store, read and written on the writer thread; each Save is
// its own committed transaction.
class StoreCounterRecord : public trust::CounterRecord {
 public:
  explicit StoreCounterRecord(store::BatchWriter& writer) : writer_(writer) {}
  Result<std::optional<uint64_t>> Load() override;
  Status Save(uint64_t value) override;

 private:
  store::BatchWriter& writer_;
};

// The floor below which trusted time never goes: the newest block's trusted time and TPM
// clock tuple; the epoch for an empty chain.
Result<trust::Floor> StoredTimeFloor(store::BatchWriter& writer);

}  // namespace tessera::server
