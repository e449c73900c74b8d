#include "server/time/db_counter_record.h"

namespace tessera::trust {

namespace {
constexpr const char* kCounterKey = "counter_seen";
}  // namespace

Result<std::optional<uint64_t>> LoadCounterSeen(store::Store& db) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> v, db.ReadMeta(kCounterKey));
  if (!v) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(*v));
}

Status SaveCounterSeen(store::Store& db, uint64_t value) {
  return db.WriteMeta(kCounterKey, static_cast<int64_t>(value));
}

}  // namespace tessera::trust
