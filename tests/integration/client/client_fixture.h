// Helpers for the client SDK integration tests: entitlements, a running tesserad, a child
// process wrapper for the CLI and examples, and a TCP relay that can cut and block
// connections to simulate network blips.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessera/client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::client::testing {

using namespace std::chrono_literals;

struct FeatureSpec {
  std::string name = "cad";
  int seats = 1;
  int lease_ttl_ms = 2000;
  int heartbeat_interval_ms = 500;
  std::string version_min = "1.0";
  std::string version_max = "9.9";
  int max_queue_length = 0;  // 0: no queueing
};

std::string EntitlementJson(const std::vector<FeatureSpec>& features);

// Starts tesserad in `dir` with the features. Fails the test (and returns null) when it does
// not start. `config_json` gets "io_threads": 1 unless it sets io_threads: tesserad's plain
// TCP read path shares a thread_local buffer across a coroutine that may resume on another
// I/O thread, which corrupts streams under load with more than one I/O thread.
std::unique_ptr<tessera::testing::TesseradProcess> StartServer(
    const std::filesystem::path& dir, const std::vector<FeatureSpec>& features,
    const std::string& config_json = "{}");

// Options for a client of 127.0.0.1:port, short timeouts for tests.
ClientOptions LocalOptions(std::vector<uint16_t> ports);

CheckoutRequest Request(const std::string& feature, const std::string& version = "2.0",
                        uint32_t count = 1);

// Polls `condition` every 20 ms until true or `timeout` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 30s);

// Seats in use for `feature` as the server reports it, or -1 on error.
int InUse(Client& client, const std::string& feature);

std::string BuildPath(const std::string& relative);   // under the build tree
std::string SourcePath(const std::string& relative);  // under the source tree

// A child process with stdout and stderr captured to files; SIGKILLed and reaped on
// destruction (and when the test process dies).
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
               const std::filesystem::path& dir);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Signal(int signo);
  // Exit code, 128+signal, or -1 when still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout = 60s);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_;
  std::filesystem::path err_;
};

// Relays 127.0.0.1:port() to 127.0.0.1:target. Block() closes every relayed connection and
// refuses new ones until Unblock().
class TcpRelay {
 public:
  explicit TcpRelay(uint16_t target);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  void Block();
  void Unblock();
  int accepted() const { return accepted_.load(); }

 private:
  void AcceptLoop();
  void Pump(int a, int b);

  uint16_t target_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> blocked_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace tessera::client::testing
