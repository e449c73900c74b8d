// The durable store: one SQLite database in WAL mode holding the engine's durable state,
// the loaded license files and the event log (DESIGN.md §5; docs/STORE.md).
//
// Durability: synchronous=FULL, so a COMMIT that returned is on stable storage.
// Errors: every failure is a Status naming the database file:
//   kResourceExhausted  disk full (SQLITE_FULL)
//   kPermissionDenied   database or file system read-only (SQLITE_READONLY, read-only open,
//                       Open on a read-only mount)
//   kDataLoss           corrupt file (SQLITE_CORRUPT/NOTADB, failed quick_check at open)
//   kFailedPrecondition schema newer than this build
//   kUnavailable        I/O error, cannot open, busy
// A failed CommitBatch rolls back completely: committed data stays intact.
//
// Thread safety: a Store is used by one thread at a time (the BatchWriter's thread once it
// runs). The free functions below open their own connections and may run concurrently
// with the writer (WAL readers do not block the writer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/engine/engine.h"
#include "server/store/audit_blocks.h"
#include "server/store/state_changes.h"

namespace tessera::store {

struct StoreOptions {
  // Open without write access (e.g. to inspect a database on read-only media). The store
  // then answers every write with kPermissionDenied. A database that needs a migration
  // cannot be opened read-only.
  bool read_only = false;
  // How long a statement waits for a lock held by another connection (backup, inspection).
  int busy_timeout_ms = 5000;
  // Run PRAGMA quick_check at open, so a corrupt file is refused before it is used.
  bool check_on_open = true;
  // Upper bound on the database size in pages (0: SQLite's default). Writes beyond it fail
  // like a full disk (kResourceExhausted).
  uint64_t max_page_count = 0;
};

// One row of the event log.
struct StoredEvent {
  uint64_t seq = 0;       // strictly increasing across batches
  uint64_t batch = 0;     // the batch (future audit block) it was committed in
  uint32_t renewals = 1;  // kRenewed: how many renewals of this lease in the batch it stands for
  engine::Event event;
};

class Store {
 public:
  // Opens or creates the database at `path` and applies pending migrations in one
  // transaction each. Errors as listed above.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  bool read_only() const;
  int schema_version() const;

  // The durable engine state, for Engine::RestoreState at startup.
  Result<engine::EngineState> LoadState();
  // The last loaded files, or nullopt when none was ever stored.
  Result<std::optional<LicenseFile>> LoadEntitlement();
  Result<std::optional<LicenseFile>> LoadRules();

  // Persists `units`, in order, as one batch in one transaction: their events (renewals of
  // one lease coalesced into one record), their merged state changes and license files.
  // Returns the batch number (1, 2, ...). On error nothing of the batch is stored.
  // REQUIRES: units non-empty, no null pointers.
  Result<uint64_t> CommitBatch(const std::vector<const Unit*>& units);

  // Up to `limit` events with seq > after_seq, in order.
  Result<std::vector<StoredEvent>> ReadEvents(uint64_t after_seq, size_t limit);
  // The number of committed batches.
  Result<uint64_t> LastBatch();

  // Seals every later batch that has events into an audit block with `sealer` (not owned;
  // nullptr stops sealing). See server/store/audit_blocks.h.
  void SetBlockSealer(BlockSealer* sealer);
  // The newest block (its leaves are not loaded), or nullopt before the first.
  Result<std::optional<BlockRecord>> LastBlock();
  // Records the identity key's appliance id and certificate (serialized SignedEnvelope).
  Status SaveAppliance(const std::string& appliance_id, const std::optional<std::string>& cert);
  // Integer values of the `meta` table by key (e.g. "counter_seen"); nullopt when absent.
  Result<std::optional<int64_t>> ReadMeta(const std::string& key);
  Status WriteMeta(const std::string& key, int64_t value);

  // PRAGMA integrity_check: OK, or kDataLoss naming the file and the first problem.
  Status IntegrityCheck();
  // Changes the size limit (see StoreOptions::max_page_count) on this connection.
  Status SetMaxPageCount(uint64_t pages);
  Result<uint64_t> PageCount();

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Copies the live database at `source_path` into `dest_path` with SQLite's online backup
// API, from a consistent snapshot, while a writer may be committing. The copy is written
// to `dest_path`.partial, synced, then renamed, so `dest_path` is complete or absent.
// Errors: as for Store::Open on either file; kAlreadyExists when dest_path exists.
Status BackupDatabase(const std::string& source_path, const std::string& dest_path);

// Opens `path` read-only and runs PRAGMA integrity_check (for the crash harness and
// restore procedure). OK or kDataLoss naming the file.
Status CheckIntegrity(const std::string& path);

// Opens `path` read-only and loads the durable engine state (e.g. of a backup).
Result<engine::EngineState> LoadStateFrom(const std::string& path);

}  // namespace tessera::store
