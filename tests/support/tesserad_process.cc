#include "tests/support/tesserad_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"

#ifndef TESSERA_TESSERAD_PATH
#define TESSERA_TESSERAD_PATH "tesserad"
#endif

namespace tessera::testing {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(10);

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string Tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string TesseradBinary() {
  const char* env = std::getenv("TESSERAD_BINARY");
  if (env && *env) return env;
  return TESSERA_TESSERAD_PATH;
}

TesseradProcess::TesseradProcess(std::filesystem::path dir, TesseradOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  if (options_.binary.empty()) options_.binary = TesseradBinary();
}

TesseradProcess::~TesseradProcess() { Kill(); }

Status TesseradProcess::Start() {
  if (running()) return FailedPrecondition("tesserad is already running");
  WriteText(config_path(), options_.config_json);
  WriteText(entitlement_path(), options_.entitlement_json);
  if (!options_.rules_json.empty()) WriteText(rules_path(), options_.rules_json);
  return Spawn("127.0.0.1:0");
}

Status TesseradProcess::Restart() {
  if (running()) return FailedPrecondition("tesserad is still running");
  if (port_ == 0) return FailedPrecondition("tesserad never started");
  if (!options_.keep_database) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(db_path().string() + suffix, ec);
    }
  }
  return Spawn("127.0.0.1:" + std::to_string(port_));
}

Status TesseradProcess::Spawn(const std::string& listen) {
  std::error_code ec;
  std::filesystem::remove(port_path(), ec);
  std::vector<std::string> args = {options_.binary,
                                   "--config",
                                   config_path().string(),
                                   "--listen",
                                   listen,
                                   "--port-file",
                                   port_path().string(),
                                   "--entitlement",
                                   entitlement_path().string(),
                                   "--db",
                                   db_path().string()};
  if (!options_.rules_json.empty()) {
    args.push_back("--rules");
    args.push_back(rules_path().string());
  }
  for (const auto& a : options_.extra_args) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = log_path().string();
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable("tesserad exited with " + std::to_string(DecodeWaitStatus(status)) +
                         " before listening; log tail:\n" + Tail(Log(), 2000));
    }
    std::string text = ReadFile(port_path());
    if (!text.empty() && text.back() == '\n') {
      port_ = static_cast<std::uint16_t>(std::stoul(text));
      return Status::Ok();
    }
    std::this_thread::sleep_for(kPoll);
  }
  Kill();
  return DeadlineExceeded("tesserad did not start listening; log tail:\n" + Tail(Log(), 2000));
}

Result<int> TesseradProcess::Reap(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return DecodeWaitStatus(status);
    }
    if (r < 0) {
      pid_ = -1;
      return Internal(std::string("waitpid: ") + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceeded("tesserad did not exit in time");
    }
    std::this_thread::sleep_for(kPoll);
  }
}

Result<int> TesseradProcess::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return FailedPrecondition("tesserad is not running");
  ::kill(pid_, SIGTERM);
  auto code = Reap(timeout);
  if (!code.ok() && running()) {
    Kill();
    return code.status();
  }
  return code;
}

Result<int> TesseradProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (!running()) return FailedPrecondition("tesserad is not running");
  return Reap(timeout);
}

void TesseradProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status TesseradProcess::Signal(int signo) {
  if (!running()) return FailedPrecondition("tesserad is not running");
  if (::kill(pid_, signo) != 0) return Internal(std::string("kill: ") + std::strerror(errno));
  return Status::Ok();
}

std::string TesseradProcess::Log() const { return ReadFile(log_path()); }

bool TesseradProcess::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout,
                                 int times) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::string text = Log();
    int found = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + needle.size())) {
      ++found;
    }
    if (found >= times) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

void TesseradProcess::WriteEntitlement(const std::string& json) {
  options_.entitlement_json = json;
  WriteText(entitlement_path(), json);
}

void TesseradProcess::WriteRules(const std::string& json) {
  options_.rules_json = json;
  WriteText(rules_path(), json);
}

Result<std::int64_t> TesseradProcess::RssKiB() const {
  if (!running()) return FailedPrecondition("tesserad is not running");
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      std::int64_t kib = 0;
      ss >> kib;
      return kib;
    }
  }
  return NotFound("no VmRSS for pid " + std::to_string(pid_));
}

}  // namespace tessera::testing
