#include "server/store/sqlite_util.h"

#include <utility>

namespace tessera::store::internal {

Status SqliteStatus(int rc, std::string_view what, const std::string& path, sqlite3* db) {
  std::string msg = "sqlite: " + std::string(what) + " on " + path + ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (" + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return ResourceExhausted(std::move(msg));
    case SQLITE_READONLY:
      return PermissionDenied(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Unavailable(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Result<Db> Db::Open(const std::string& path, int flags) {
  Db db;
  db.path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "open", path, db.db_);
  sqlite3_extended_result_codes(db.db_, 1);
  return db;
}

Status Db::Exec(const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, what);
}

Result<int64_t> Db::QueryInt(const char* sql, std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(*this, sql));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Internal("sqlite: " + std::string(what) + " on " + path_ + ": no result");
  return s.Int(0);
}

Result<std::string> Db::QueryText(const char* sql, std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(*this, sql));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Internal("sqlite: " + std::string(what) + " on " + path_ + ": no result");
  return s.Text(0);
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(std::exchange(other.db_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Result<Stmt> Stmt::Prepare(const Db& db, std::string_view sql) {
  Stmt s;
  s.db_ = &db;
  int rc =
      sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &s.stmt_, nullptr);
  if (rc != SQLITE_OK) return db.Error(rc, "prepare");
  return s;
}

void Stmt::BindText(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void Stmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void Stmt::BindOptInt(int i, const std::optional<int64_t>& v) {
  if (v) {
    BindInt(i, *v);
  } else {
    BindNull(i);
  }
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = db_->Error(rc, "step");
  sqlite3_reset(stmt_);
  return s;
}

Status Stmt::Run() {
  int rc = sqlite3_step(stmt_);
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt_);
  Status s = rc == SQLITE_DONE ? Status::Ok() : db_->Error(rc, "step");
  Reset();
  return s;
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Text(int c) const {
  const void* p = sqlite3_column_blob(stmt_, c);
  int n = sqlite3_column_bytes(stmt_, c);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

}  // namespace tessera::store::internal
