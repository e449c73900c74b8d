#include "tests/integration/client/client_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/system_clock.h"

namespace tessera::client::testing {

std::string EntitlementJson(const std::vector<FeatureSpec>& features) {
  std::ostringstream out;
  out << R"({"features": [)";
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureSpec& f = features[i];
    out << (i ? "," : "") << R"({"name": ")" << f.name << R"(", "seats": )" << f.seats
        << R"(, "lease_ttl_ms": )" << f.lease_ttl_ms << R"(, "heartbeat_interval_ms": )"
        << f.heartbeat_interval_ms << R"(, "version_min": ")" << f.version_min
        << R"(", "version_max": ")" << f.version_max << R"(", "max_queue_length": )"
        << f.max_queue_length << "}";
  }
  out << "]}";
  return out.str();
}

std::unique_ptr<tessera::testing::TesseradProcess> StartServer(
    const std::filesystem::path& dir, const std::vector<FeatureSpec>& features,
    const std::string& config_json) {
  std::filesystem::create_directories(dir);
  tessera::testing::TesseradOptions options;
  options.entitlement_json = EntitlementJson(features);
  options.config_json = config_json;
  auto server = std::make_unique<tessera::testing::TesseradProcess>(dir, options);
  Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  if (!started.ok()) return nullptr;
  return server;
}

ClientOptions LocalOptions(std::vector<uint16_t> ports) {
  ClientOptions options;
  for (uint16_t port : ports) options.servers.push_back("127.0.0.1:" + std::to_string(port));
  options.app_name = "client-integration-test";
  options.connect_timeout = Seconds(2);
  options.request_timeout = Seconds(10);
  options.max_reconnect_backoff = Duration(300);
  return options;
}

CheckoutRequest Request(const std::string& feature, const std::string& version, uint32_t count) {
  CheckoutRequest request;
  request.feature = feature;
  request.version = version;
  request.count = count;
  return request;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const Duration deadline = MonotonicNow() + timeout;
  for (;;) {
    if (condition()) return true;
    if (MonotonicNow() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

int InUse(Client& client, const std::string& feature) {
  auto status = client.GetStatus(feature);
  if (!status.ok()) return -1;
  for (const auto& f : status->features) {
    if (f.name == feature) return static_cast<int>(f.in_use);
  }
  return -1;
}

std::string BuildPath(const std::string& relative) {
  return std::string(TESSERA_BINARY_ROOT) + "/" + relative;
}

std::string SourcePath(const std::string& relative) {
  return std::string(TESSERA_SOURCE_ROOT) + "/" + relative;
}

// ---------------------------------------------------------------------------------------

ChildProcess::ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
                           const std::filesystem::path& dir) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  out_ = dir / ("child-" + std::to_string(n) + ".out");
  err_ = dir / ("child-" + std::to_string(n) + ".err");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // `env` entries replace inherited ones of the same name.
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& mine) {
      return name_of(mine) == name_of(entry);
    });
    if (!replaced) environment.push_back(entry);
  }
  for (auto& e : env) environment.push_back(e);
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
}

void ChildProcess::Signal(int signo) {
  if (pid_ > 0) kill(pid_, signo);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int result = -1;
  WaitUntil(
      [&] {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r != pid_) return false;
        result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return true;
      },
      timeout);
  return result;
}

std::string ChildProcess::Stdout() const { return tessera::testing::ReadFile(out_); }
std::string ChildProcess::Stderr() const { return tessera::testing::ReadFile(err_); }

// ---------------------------------------------------------------------------------------

TcpRelay::TcpRelay(uint16_t target) : target_(target) {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(listener_, 128) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "relay cannot listen";
    return;
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpRelay::~TcpRelay() {
  stop_ = true;
  shutdown(listener_, SHUT_RDWR);
  Block();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  close(listener_);
}

void TcpRelay::Block() {
  blocked_ = true;
  std::lock_guard lock(mu_);
  for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
}

void TcpRelay::Unblock() { blocked_ = false; }

void TcpRelay::AcceptLoop() {
  while (!stop_) {
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stop_) return;
      continue;
    }
    if (blocked_) {
      close(client);
      continue;
    }
    const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(upstream);
      close(client);
      continue;
    }
    ++accepted_;
    std::lock_guard lock(mu_);
    open_fds_.push_back(client);
    open_fds_.push_back(upstream);
    threads_.emplace_back([this, client, upstream] { Pump(client, upstream); });
  }
}

void TcpRelay::Pump(int a, int b) {
  char buffer[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  bool open = true;
  while (open && !stop_) {
    if (poll(fds, 2, 200) < 0) break;
    for (int i = 0; i < 2 && open; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        open = false;
        break;
      }
      const int to = fds[1 - i].fd;
      ssize_t written = 0;
      while (written < n) {
        const ssize_t w =
            send(to, buffer + written, static_cast<size_t>(n - written), MSG_NOSIGNAL);
        if (w <= 0) {
          open = false;
          break;
        }
        written += w;
      }
    }
  }
  std::lock_guard lock(mu_);
  open_fds_.erase(std::remove_if(open_fds_.begin(), open_fds_.end(),
                                 [&](int fd) { return fd == a || fd == b; }),
                  open_fds_.end());
  close(a);
  close(b);
}

}  // namespace tessera::client::testing
