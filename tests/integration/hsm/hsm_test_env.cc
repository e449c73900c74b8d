#include "tests/integration/hsm/hsm_test_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace tessera::hsm::testing {
namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

bool CanConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/tessera-hsm-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
}

void ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args = CArgv(argv);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ChildProcess::Wait() {
  int status = 0;
  if (pid_ > 0) {
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  return status;
}

Swtpm::Swtpm(std::string dir) : dir_(std::move(dir)) { std::filesystem::create_directories(dir_); }

Swtpm::~Swtpm() { Stop(); }

void Swtpm::Start() {
  std::string sock = dir_ + "/tpm.sock";
  std::filesystem::remove(sock);
  std::filesystem::remove(sock + ".ctrl");
  process_.Start({"swtpm", "socket", "--tpm2", "--server", "type=unixio,path=" + sock, "--ctrl",
                  "type=unixio,path=" + sock + ".ctrl", "--flags", "not-need-init,startup-clear",
                  "--tpmstate", "dir=" + dir_},
                 dir_ + "/swtpm.log");
  for (int i = 0; i < 2000; ++i) {  // normally ready in a few ms
    if (CanConnect(sock)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw std::runtime_error("swtpm did not come up; see " + dir_ + "/swtpm.log");
}

void Swtpm::KillHard() {
  process_.Signal(SIGKILL);
  process_.Wait();
}

void Swtpm::Stop() {
  if (!process_.running()) return;
  process_.Signal(SIGTERM);
  process_.Wait();
}

SoftHsmToken::SoftHsmToken(std::string dir, std::string label, std::string pin)
    : dir_(std::move(dir)), label_(std::move(label)) {
  std::filesystem::create_directories(dir_ + "/tokens");
  {
    std::ofstream conf(dir_ + "/softhsm2.conf");
    conf << "directories.tokendir = " << dir_ << "/tokens\n"
         << "objectstore.backend = file\nlog.level = ERROR\n";
  }
  {
    std::ofstream pin_out(pin_file());
    pin_out << pin << "\n";
  }
  ::setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
  CommandResult r = RunCommand({"softhsm2-util", "--init-token", "--free", "--label", label_,
                                "--pin", pin, "--so-pin", "so-" + pin});
  if (r.exit_code != 0) throw std::runtime_error("softhsm2-util failed: " + r.out);
}

std::string SoftHsmToken::uri(const std::string& object) const {
  return "pkcs11:token=" + label_ + ";object=" + object + "?module-path=" + kModule +
         "&pin-source=file:" + pin_file();
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& extra_env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> args = CArgv(argv);
  // The environment is built before fork: the child of a threaded process must not allocate.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (!extra_env.contains(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp = CArgv(env_strings);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandResult result;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) result.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace tessera::hsm::testing
