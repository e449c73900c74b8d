#include "server/trust_startup.h"

#include <string>

#include "server/audit_startup.h"
#include "server/time/db_counter_record.h"
#include "tessera/v1/audit.pb.h"

namespace tessera::server {

namespace v1 = tessera::v1;

Result<std::optional<uint64_t>> StoreCounterRecord::Load() {
  std::optional<uint64_t> out;
  Status s = writer_.RunOnWriter([&out](store::Store& db) -> Status {
    auto v = trust::LoadCounterSeen(db);
    if (!v.ok()) return v.status();
    out = *v;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status StoreCounterRecord::Save(uint64_t value) {
  return writer_.RunOnWriter(
      [value](store::Store& db) { return trust::SaveCounterSeen(db, value); });
}

Result<trust::Floor> StoredTimeFloor(store::BatchWriter& writer) {
  trust::Floor floor;
  TESSERA_ASSIGN_OR_RETURN(std::optional<v1::SignedEnvelope> newest, NewestBlockHeader(writer));
  if (!newest) return floor;
  v1::BlockHeader header;
  if (!header.ParseFromString(newest->payload())) {
    return DataLoss("the newest audit block's header does not parse");
  }
  const int64_t ms =
      header.has_time_high_water_ms() ? header.time_high_water_ms() : header.wall_time_ms();
  floor.time = FromUnixMillis(ms);
  if (header.has_tpm_clock()) {
    const v1::TpmClock& c = header.tpm_clock();
    floor.tpm = hsm::ClockTuple{c.clock_ms(), c.reset_count(), c.restart_count(), c.safe()};
  }
  return floor;
}

}  // namespace tessera::server
