// Real devices for key-store tests: a private temp dir, a swtpm child process per test, a
// SoftHSM2 token per test, and a helper to run a command and capture its output.
//
// Every object cleans up in its destructor (child processes killed and reaped, temp dirs
// removed), also when an assertion fails half-way.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace tessera::hsm::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process started with fork/exec. Killed with SIGKILL and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (searched in PATH) with stdout/stderr appended to `log_path`.
  void Start(const std::vector<std::string>& argv, const std::string& log_path);
  void Signal(int sig);
  // Waits for exit; returns the exit status as from waitpid.
  int Wait();
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// swtpm on unix sockets in `dir` (not --daemon: a child of the test).
class Swtpm {
 public:
  explicit Swtpm(std::string dir);
  ~Swtpm();
  void Start();     // returns when the socket accepts connections
  void KillHard();  // SIGKILL: no TPM2_Shutdown, state as at the last NV write
  void Stop();      // SIGTERM and reap
  std::string tcti() const { return "swtpm:path=" + dir_ + "/tpm.sock"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  ChildProcess process_;
};

// A SoftHSM2 token of its own: config in `dir`, SOFTHSM2_CONF set for this process.
class SoftHsmToken {
 public:
  static constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
  SoftHsmToken(std::string dir, std::string label, std::string pin);
  std::string pin_file() const { return dir_ + "/pin"; }
  // pkcs11: URI for `object` on this token, PIN from the pin file.
  std::string uri(const std::string& object = "tessera-identity") const;

 private:
  std::string dir_;
  std::string label_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs a command to completion (argv[0] searched in PATH), capturing its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& extra_env = {});

}  // namespace tessera::hsm::testing
