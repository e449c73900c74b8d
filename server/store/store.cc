// Opening (pragmas, corruption check, migrations) and reading the store.
#include "server/store/store.h"

#include <sys/statvfs.h>

#include <filesystem>
#include <utility>

#include "server/store/schema.h"
#include "server/store/store_impl.h"

namespace tessera::store {

using internal::Db;
using internal::Stmt;

namespace {

constexpr const char* kLeaseColumns =
    "id, feature, version, count, client_id, user, host, nonce, issued_at_ms, expires_at_ms, "
    "heartbeat_interval_ms, borrowed, overdraft, in_grace, tokens, metered_units, lingering";

}  // namespace

void BindLease(Stmt& s, int i, const engine::Lease& l) {
  s.BindInt(i, static_cast<int64_t>(l.id));
  s.BindText(i + 1, l.feature);
  s.BindText(i + 2, l.version);
  s.BindInt(i + 3, l.count);
  s.BindText(i + 4, l.client.client_id);
  s.BindText(i + 5, l.client.user);
  s.BindText(i + 6, l.client.host);
  s.BindBlob(i + 7, l.nonce);
  s.BindInt(i + 8, ToUnixMillis(l.issued_at));
  s.BindInt(i + 9, ToUnixMillis(l.expires_at));
  s.BindInt(i + 10, l.heartbeat_interval.count());
  s.BindInt(i + 11, l.borrowed ? 1 : 0);
  s.BindInt(i + 12, l.overdraft ? 1 : 0);
  s.BindInt(i + 13, l.in_grace ? 1 : 0);
  s.BindInt(i + 14, l.tokens);
  s.BindInt(i + 15, static_cast<int64_t>(l.metered_units));
  s.BindInt(i + 16, l.lingering ? 1 : 0);
}

engine::Lease ReadLease(const Stmt& s, int c) {
  engine::Lease l;
  l.id = static_cast<engine::LeaseId>(s.Int(c));
  l.feature = s.Text(c + 1);
  l.version = s.Text(c + 2);
  l.count = static_cast<uint32_t>(s.Int(c + 3));
  l.client.client_id = s.Text(c + 4);
  l.client.user = s.Text(c + 5);
  l.client.host = s.Text(c + 6);
  l.nonce = s.Text(c + 7);
  l.issued_at = FromUnixMillis(s.Int(c + 8));
  l.expires_at = FromUnixMillis(s.Int(c + 9));
  l.heartbeat_interval = Duration(s.Int(c + 10));
  l.borrowed = s.Int(c + 11) != 0;
  l.overdraft = s.Int(c + 12) != 0;
  l.in_grace = s.Int(c + 13) != 0;
  l.tokens = static_cast<uint32_t>(s.Int(c + 14));
  l.metered_units = static_cast<uint64_t>(s.Int(c + 15));
  l.lingering = s.Int(c + 16) != 0;
  return l;
}

Status Store::Impl::QuickCheck(const char* pragma) {
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, pragma));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  std::string first = row ? s.Text(0) : "no result";
  if (first == "ok") return Status::Ok();
  return DataLoss("database " + db.path() + " failed its integrity check: " + first);
}

Status Store::Impl::Configure() {
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  read_only = options.read_only || sqlite3_db_readonly(db.get(), "main") == 1;
  // Reading the header first turns a non-database file into kDataLoss before anything else.
  TESSERA_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version", "read schema"));
  schema_version = static_cast<int>(version);
  if (options.check_on_open) TESSERA_RETURN_IF_ERROR(QuickCheck("PRAGMA quick_check(1)"));
  if (!read_only) {
    TESSERA_ASSIGN_OR_RETURN(std::string mode,
                             db.QueryText("PRAGMA journal_mode=WAL", "set journal mode"));
    if (mode != "wal") {
      return Unavailable("database " + db.path() + " cannot use WAL (journal mode " + mode + ")");
    }
  }
  TESSERA_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "pragmas"));
  if (options.max_page_count > 0) {
    std::string sql = "PRAGMA max_page_count=" + std::to_string(options.max_page_count);
    TESSERA_RETURN_IF_ERROR(db.Exec(sql.c_str(), "set max_page_count"));
  }
  return Status::Ok();
}

Status Store::Impl::Migrate() {
  int latest = LatestSchemaVersion();
  if (schema_version > latest) {
    return FailedPrecondition("database " + db.path() + " has schema version " +
                              std::to_string(schema_version) + ", newer than version " +
                              std::to_string(latest) + " of this build; refusing to open it");
  }
  if (schema_version < latest && read_only) {
    return PermissionDenied("database " + db.path() + " is read-only and needs schema migration");
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= schema_version) continue;
    TESSERA_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE", "begin migration"));
    std::string sql = std::string(m.sql) + "\nPRAGMA user_version=" + std::to_string(m.version);
    Status s = db.Exec(sql.c_str(), "migration " + std::to_string(m.version));
    if (s.ok()) s = db.Exec("COMMIT", "commit migration");
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK", "rollback migration");
      return s;
    }
    schema_version = m.version;
  }
  return Status::Ok();
}

Status Store::Impl::PrepareStatements() {
  auto prep = [&](Stmt& s, const std::string& sql) -> Status {
    TESSERA_ASSIGN_OR_RETURN(s, Stmt::Prepare(db, sql));
    return Status::Ok();
  };
  std::string lease_binds = "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?";
  TESSERA_RETURN_IF_ERROR(
      prep(insert_batch, "INSERT INTO batches (batch, units, events) VALUES (?, ?, ?)"));
  TESSERA_RETURN_IF_ERROR(
      prep(insert_event,
           "INSERT INTO events (batch, kind, at_ms, lease_id, ticket, feature, client_id, user, "
           "host, count, reason, detail, position, units, metered_remaining, renewals) VALUES "
           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(prep(insert_event_lease, "INSERT INTO event_leases (seq, " +
                                                       std::string(kLeaseColumns) + ") VALUES (?," +
                                                       lease_binds + ")"));
  TESSERA_RETURN_IF_ERROR(prep(upsert_lease, "INSERT OR REPLACE INTO leases (" +
                                                 std::string(kLeaseColumns) + ") VALUES (" +
                                                 lease_binds + ")"));
  TESSERA_RETURN_IF_ERROR(prep(delete_lease, "DELETE FROM leases WHERE id = ?"));
  TESSERA_RETURN_IF_ERROR(
      prep(add_metered,
           "INSERT INTO metered_counters (feature, consumed) VALUES (?, ?) "
           "ON CONFLICT (feature) DO UPDATE SET consumed = consumed + excluded.consumed"));
  TESSERA_RETURN_IF_ERROR(prep(insert_block,
                               "INSERT INTO audit_blocks (sequence, batch, hash, header) "
                               "VALUES (?, ?, ?, ?)"));
  TESSERA_RETURN_IF_ERROR(
      prep(insert_leaf, "INSERT INTO audit_leaves (sequence, idx, leaf) VALUES (?, ?, ?)"));
  return prep(raise_next_lease_id,
              "UPDATE meta SET value = max(value, ?) WHERE key = 'next_lease_id'");
}

namespace {

bool OnReadOnlyFileSystem(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  struct statvfs fs {};
  return ::statvfs(dir.empty() ? "." : dir.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0;
}

Result<std::unique_ptr<Store::Impl>> OpenImpl(const std::string& path, StoreOptions options) {
  auto impl = std::make_unique<Store::Impl>();
  impl->options = options;
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  TESSERA_ASSIGN_OR_RETURN(impl->db, Db::Open(path, flags));
  TESSERA_RETURN_IF_ERROR(impl->Configure());
  TESSERA_RETURN_IF_ERROR(impl->Migrate());
  TESSERA_RETURN_IF_ERROR(impl->PrepareStatements());
  return impl;
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, StoreOptions options) {
  Result<std::unique_ptr<Impl>> impl = OpenImpl(path, options);
  if (!impl.ok()) {
    // A WAL database on a read-only file system typically fails with CANTOPEN (its -shm
    // file cannot be created): say what the operator has to fix.
    if (impl.status().code() != StatusCode::kDataLoss &&
        impl.status().code() != StatusCode::kFailedPrecondition && OnReadOnlyFileSystem(path)) {
      return PermissionDenied("database " + path + " is on a read-only file system (" +
                              impl.status().message() + ")");
    }
    return impl.status();
  }
  return std::unique_ptr<Store>(new Store(std::move(impl).value()));
}

const std::string& Store::path() const { return impl_->db.path(); }
bool Store::read_only() const { return impl_->read_only; }
int Store::schema_version() const { return impl_->schema_version; }

Result<engine::EngineState> LoadStateFromDb(const Db& db) {
  engine::EngineState state;
  {
    TESSERA_ASSIGN_OR_RETURN(Stmt s,
                             Stmt::Prepare(db, "SELECT value FROM meta WHERE key='next_lease_id'"));
    TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return DataLoss("database " + db.path() + " lacks meta.next_lease_id");
    state.next_lease_id = static_cast<engine::LeaseId>(s.Int(0));
  }
  {
    TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, "SELECT " + std::string(kLeaseColumns) +
                                                           " FROM leases ORDER BY id"));
    for (;;) {
      TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      state.leases.push_back(ReadLease(s, 0));
    }
  }
  {
    TESSERA_ASSIGN_OR_RETURN(
        Stmt s, Stmt::Prepare(db,
                              "SELECT feature, user, host, bound_at_ms, held_until_ms, overdraft "
                              "FROM named_user_bindings ORDER BY position"));
    for (;;) {
      TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      state.bindings.push_back({s.Text(0), s.Text(1), s.Text(2), FromUnixMillis(s.Int(3)),
                                FromUnixMillis(s.Int(4)), s.Int(5) != 0});
    }
  }
  TESSERA_ASSIGN_OR_RETURN(Stmt s,
                           Stmt::Prepare(db, "SELECT feature, consumed FROM metered_counters"));
  for (;;) {
    TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    state.metered_consumed[s.Text(0)] = static_cast<uint64_t>(s.Int(1));
  }
  return state;
}

Result<engine::EngineState> Store::LoadState() { return LoadStateFromDb(impl_->db); }

Result<std::optional<LicenseFile>> Store::Impl::LoadFile(const char* table) {
  std::string sql = std::string("SELECT content, loaded_at_ms FROM ") + table + " WHERE id = 1";
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, sql));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<LicenseFile>();
  return std::optional<LicenseFile>(LicenseFile{s.Text(0), FromUnixMillis(s.Int(1))});
}

Result<std::optional<LicenseFile>> Store::LoadEntitlement() {
  return impl_->LoadFile("entitlements");
}
Result<std::optional<LicenseFile>> Store::LoadRules() { return impl_->LoadFile("rules"); }

Result<uint64_t> Store::LastBatch() {
  TESSERA_ASSIGN_OR_RETURN(
      int64_t n, impl_->db.QueryInt("SELECT COALESCE(MAX(batch), 0) FROM batches", "last batch"));
  return static_cast<uint64_t>(n);
}

Status Store::IntegrityCheck() { return impl_->QuickCheck("PRAGMA integrity_check(1)"); }

Status Store::SetMaxPageCount(uint64_t pages) {
  std::string sql = "PRAGMA max_page_count=" + std::to_string(pages);
  TESSERA_ASSIGN_OR_RETURN(int64_t now_max, impl_->db.QueryInt(sql.c_str(), "max_page_count"));
  (void)now_max;
  return Status::Ok();
}

Result<uint64_t> Store::PageCount() {
  TESSERA_ASSIGN_OR_RETURN(int64_t n, impl_->db.QueryInt("PRAGMA page_count", "page_count"));
  return static_cast<uint64_t>(n);
}

}  // namespace tessera::store
