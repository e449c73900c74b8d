// Thin RAII wrappers over the SQLite C API, private to the store: a connection, a prepared
// statement, and the mapping of SQLite result codes to Status codes.
// Thread safety: none; each object is used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tessera::store::internal {

// Maps a SQLite result code to a Status naming the operation and the database file:
// FULL -> kResourceExhausted, READONLY -> kPermissionDenied, CORRUPT/NOTADB -> kDataLoss,
// BUSY/LOCKED/IOERR/CANTOPEN -> kUnavailable, anything else -> kInternal.
Status SqliteStatus(int rc, std::string_view what, const std::string& path, sqlite3* db = nullptr);

// An open connection. Closing happens in the destructor.
class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // flags: SQLITE_OPEN_* (SQLITE_OPEN_NOMUTEX is always added: one thread at a time).
  static Result<Db> Open(const std::string& path, int flags);

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs one or more statements without results.
  Status Exec(const char* sql, std::string_view what);
  // Runs a statement whose first result column is an integer or text (PRAGMA values).
  Result<int64_t> QueryInt(const char* sql, std::string_view what);
  Result<std::string> QueryText(const char* sql, std::string_view what);
  Status Error(int rc, std::string_view what) const { return SqliteStatus(rc, what, path_, db_); }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  static Result<Stmt> Prepare(const Db& db, std::string_view sql);

  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindText(int i, std::string_view v);
  void BindBlob(int i, std::string_view v);
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  void BindOptInt(int i, const std::optional<int64_t>& v);

  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done (statements without rows) and resets for reuse.
  Status Run();
  void Reset();

  int64_t Int(int c) const { return sqlite3_column_int64(stmt_, c); }
  bool IsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string Text(int c) const;  // text or blob bytes

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const Db* db_ = nullptr;
};

}  // namespace tessera::store::internal
