// One process at a time on a database: tesserad and `tesserad accept-rollback` hold an
// exclusive flock(2) on "<database>.lock" for as long as they use it, so an admin command
// cannot write the audit chain under a running server. The kernel drops the lock when the
// process dies, however it dies.
// Thread safety: not thread-safe; one owner.
#pragma once

#include <string>

#include "base/status.h"

namespace tessera::server {

class DatabaseLock {
 public:
  // Takes the lock for `database` (creating the lock file and its directory).
  // Errors: kFailedPrecondition when another process holds it; kUnavailable when the lock
  // file cannot be created or locked (e.g. a read-only file system) — callers may go on
  // without the lock and let the store report the real problem.
  static Result<DatabaseLock> Acquire(const std::string& database);
  // Holds nothing (when the lock file could not be created).
  static DatabaseLock Unlocked() { return DatabaseLock(-1); }

  DatabaseLock(DatabaseLock&& other) noexcept;
  DatabaseLock& operator=(DatabaseLock&& other) noexcept;
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;
  ~DatabaseLock();

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace tessera::server
