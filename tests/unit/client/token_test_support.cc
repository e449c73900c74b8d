#include "tests/unit/client/token_test_support.h"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "base/system_clock.h"

namespace tessera::client::testing {

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tessera-clienttok-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path ScratchDir::Write(const std::string& name, const std::string& bytes) const {
  const auto file = path_ / name;
  std::ofstream out(file, std::ios::binary);
  out << bytes;
  return file;
}

std::string AsString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const Duration deadline = MonotonicNow() + timeout;
  for (;;) {
    if (condition()) return true;
    if (MonotonicNow() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace tessera::client::testing
