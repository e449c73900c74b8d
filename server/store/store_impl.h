// Internal: the Store's connection and cached statements, shared by store.cc (open,
// migrations, reads), store_commit.cc (the batch transaction) and backup.cc.
#pragma once

#include <string>

#include "server/store/audit_blocks.h"
#include "server/store/sqlite_util.h"
#include "server/store/store.h"

namespace tessera::store {

// Lease columns in table order, shared by `leases` and `event_leases` (which has `seq`
// first). kLeaseColumnCount binds follow the first bind index given to BindLease.
inline constexpr int kLeaseColumnCount = 17;
void BindLease(internal::Stmt& s, int first, const engine::Lease& l);
engine::Lease ReadLease(const internal::Stmt& s, int first);

class Store::Impl {
 public:
  internal::Db db;
  StoreOptions options;
  bool read_only = false;
  int schema_version = 0;

  // Prepared once after migrations; reused by every batch.
  internal::Stmt insert_batch;
  internal::Stmt insert_event;
  internal::Stmt insert_event_lease;
  internal::Stmt upsert_lease;
  internal::Stmt delete_lease;
  internal::Stmt add_metered;
  internal::Stmt raise_next_lease_id;
  internal::Stmt insert_block;
  internal::Stmt insert_leaf;

  BlockSealer* sealer = nullptr;  // not owned; null: batches are not sealed

  Status Configure();
  Status Migrate();
  Status PrepareStatements();
  Status QuickCheck(const char* pragma);

  // The body of CommitBatch between BEGIN and COMMIT.
  Result<uint64_t> WriteBatch(const std::vector<const Unit*>& units);
  // Writes the batch's coalesced records and returns them (pointing into `units`).
  Result<std::vector<CoalescedEvent>> WriteEvents(uint64_t batch,
                                                  const std::vector<const Unit*>& units);
  Status WriteBlock(uint64_t batch, std::span<const CoalescedEvent> events);
  Status ApplyChanges(const StateChanges& c);
  Status ReplaceState(const engine::EngineState& s);
  Status ReplaceBindings(const std::vector<engine::NamedUserBinding>& bindings);
  Status SaveFile(const char* table, const LicenseFile& file);
  Result<std::optional<LicenseFile>> LoadFile(const char* table);
};

// A read-only connection for the free functions (they may run beside the writer).
Result<internal::Db> OpenReadOnly(const std::string& path);

// Loads the durable engine state through `db`.
Result<engine::EngineState> LoadStateFromDb(const internal::Db& db);

}  // namespace tessera::store
