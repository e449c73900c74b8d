// Runs the real tesserad binary as a child process for integration tests.
//
// Files live in the given directory: tesserad.json (config), entitlement.json, rules.json,
// port (written by tesserad once listening), tesserad.db (the store, kept across restarts)
// and tesserad.log (its stderr, appended across
// restarts). tesserad listens on 127.0.0.1 port 0; port() is the port it picked.
//
// The child is always reaped: the destructor SIGKILLs and waits for a child still running,
// and the child gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
// Thread safety: not thread-safe; use from the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace tessera::testing {

struct TesseradOptions {
  std::string entitlement_json = R"({"features": []})";
  std::string rules_json;          // empty: no rules file
  std::string config_json = "{}";  // written to tesserad.json, passed with --config
  std::vector<std::string> extra_args;
  std::string binary;  // empty: TesseradBinary()
  std::chrono::milliseconds start_timeout{30000};
  // Restart() reuses tesserad.db, as a real restart does (durability and crash tests).
  // false: Restart() begins with an empty database, i.e. a server that lost its state;
  // kept as the default while older tests still rely on a restart forgetting leases.
  bool keep_database = false;
};

// The built tesserad: $TESSERAD_BINARY if set, else <build>/server/tesserad.
std::string TesseradBinary();

class TesseradProcess {
 public:
  TesseradProcess(std::filesystem::path dir, TesseradOptions options);
  ~TesseradProcess();
  TesseradProcess(const TesseradProcess&) = delete;
  TesseradProcess& operator=(const TesseradProcess&) = delete;

  // Writes the files, spawns tesserad and waits until it is listening. Errors carry the tail
  // of tesserad.log when the child exited early. REQUIRES: not running.
  Status Start();

  // SIGTERM, then waits up to `timeout` (then SIGKILL). Returns the exit code, or 128+signal
  // when it died from a signal.
  Result<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // SIGKILL and reap.
  void Kill();

  // Starts again on the same port with the same files (the database only with
  // keep_database). REQUIRES: not running.
  Status Restart();

  // Sends a signal (e.g. SIGHUP). REQUIRES: running.
  Status Signal(int signo);

  // Waits until the child exits on its own; returns its exit code (or 128+signal).
  Result<int> WaitExit(std::chrono::milliseconds timeout);

  bool running() const { return pid_ > 0; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_ / "tesserad.json"; }
  std::filesystem::path entitlement_path() const { return dir_ / "entitlement.json"; }
  std::filesystem::path rules_path() const { return dir_ / "rules.json"; }
  std::filesystem::path port_path() const { return dir_ / "port"; }
  std::filesystem::path log_path() const { return dir_ / "tesserad.log"; }
  // The database (--db); kept across Restart().
  std::filesystem::path db_path() const { return dir_ / "tesserad.db"; }

  // Everything tesserad has logged so far.
  std::string Log() const;
  // Polls the log until it contains `needle` `times` times (true) or the timeout passes.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout,
                  int times = 1) const;

  // Replace a file (e.g. before Signal(SIGHUP)).
  void WriteEntitlement(const std::string& json);
  void WriteRules(const std::string& json);

  // VmRSS of the child in KiB, from /proc/PID/status.
  Result<std::int64_t> RssKiB() const;

 private:
  Status Spawn(const std::string& listen);
  Result<int> Reap(std::chrono::milliseconds timeout);

  std::filesystem::path dir_;
  TesseradOptions options_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace tessera::testing
