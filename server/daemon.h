// tesserad's process lifecycle: load files, bind, serve, drain on SIGTERM, reload on SIGHUP.
#pragma once

#include "server/config.h"

namespace tessera::server {

// Process exit codes (docs/SERVER.md).
enum ExitCode : int {
  kExitOk = 0,               // clean shutdown (SIGTERM/SIGINT drained)
  kExitRuntimeFailure = 1,   // an unexpected failure while serving
  kExitUsage = 2,            // bad command line
  kExitBadConfig = 3,        // invalid config, entitlement, rules or TLS files
  kExitCannotListen = 4,     // cannot bind the listen address or write the port file
  kExitStoreFailure = 5,     // the database cannot be opened, read, restored or written at start
  kExitKeyStoreFailure = 6,  // the key store cannot be opened, holds no key, or is refused
};

// Runs the server until it is told to stop. Returns an ExitCode.
// REQUIRES: ValidateConfig(config) is OK.
int RunDaemon(const ServerConfig& config);

// `tesserad accept-rollback`: after a detected rollback (docs/TRUST.md), records the key
// store's counter in config.database and seals a ROLLBACK_ACCEPTED event by `actor` into its
// audit chain, so the next start serves again and the vendor sees who accepted what.
// Returns an ExitCode. REQUIRES: tesserad is not running on that database.
int AcceptRollback(const ServerConfig& config, const std::string& actor);

}  // namespace tessera::server
