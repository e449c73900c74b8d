// Online backup, integrity check and read-only loading: each opens its own connection, so
// they may run while the BatchWriter commits (WAL readers see a consistent snapshot).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "server/store/store_impl.h"

namespace tessera::store {

using internal::Db;

namespace {

Status SyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Unavailable("fsync of " + path + " failed");
}

// Copies every page of `src` into `dest` from one read snapshot.
Status CopyPages(const Db& src, const Db& dest) {
  sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", src.get(), "main");
  if (b == nullptr) return dest.Error(sqlite3_errcode(dest.get()), "backup init");
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 500; ++attempt) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(10);
  }
  int finish = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return src.Error(rc, "backup step");
  if (finish != SQLITE_OK) return dest.Error(finish, "backup finish");
  return Status::Ok();
}

}  // namespace

Result<Db> OpenReadOnly(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Db db, Db::Open(path, SQLITE_OPEN_READONLY));
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

Status BackupDatabase(const std::string& source_path, const std::string& dest_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dest_path, ec)) return AlreadyExists("backup target " + dest_path + " exists");
  std::string partial = dest_path + ".partial";
  fs::remove(partial, ec);
  {
    TESSERA_ASSIGN_OR_RETURN(Db src, OpenReadOnly(source_path));
    TESSERA_ASSIGN_OR_RETURN(Db dest,
                             Db::Open(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    Status s = CopyPages(src, dest);
    // A self-contained file: no -wal beside it until it is opened as a live store again.
    if (s.ok()) s = dest.Exec("PRAGMA journal_mode=DELETE", "backup journal mode");
    if (!s.ok()) {
      fs::remove(partial, ec);
      return s;
    }
  }
  TESSERA_RETURN_IF_ERROR(SyncPath(partial));
  fs::rename(partial, dest_path, ec);
  if (ec) return Unavailable("cannot rename " + partial + " to " + dest_path + ": " + ec.message());
  fs::path dir = fs::path(dest_path).parent_path();
  return SyncPath(dir.empty() ? "." : dir.string());
}

Status CheckIntegrity(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Db db, OpenReadOnly(path));
  TESSERA_ASSIGN_OR_RETURN(std::string first,
                           db.QueryText("PRAGMA integrity_check(1)", "integrity check"));
  if (first == "ok") return Status::Ok();
  return DataLoss("database " + path + " failed its integrity check: " + first);
}

Result<engine::EngineState> LoadStateFrom(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Db db, OpenReadOnly(path));
  return LoadStateFromDb(db);
}

}  // namespace tessera::store
