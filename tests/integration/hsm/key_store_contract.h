// The KeyStore contract, run against every backend. Each backend's test binary provides a
// BackendHarness and instantiates the suite (INSTANTIATE_TEST_SUITE_P).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "hsm/key_store.h"

namespace tessera::hsm::testing {

// One backend's device, fresh for each test.
class BackendHarness {
 public:
  virtual ~BackendHarness() = default;
  virtual std::string uri() const = 0;
  virtual OpenOptions options() const { return {}; }
  // Extra arguments for the `tessera` CLI (e.g. --insecure-dev-keys).
  virtual std::vector<std::string> cli_flags() const { return {}; }
  // Restarts the device as after a power cycle with an orderly shutdown (no-op for
  // backends whose state is only files). Call with no KeyStore open.
  virtual void RestartDevice() {}
  virtual bool has_trusted_clock() const = 0;
  virtual bool has_hardware_counter() const = 0;
};

struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<BackendHarness>(const std::string& dir)> make;
};

// Names the backend in test output instead of dumping the struct's bytes.
inline void PrintTo(const BackendParam& param, std::ostream* os) { *os << param.name; }

inline std::string BackendName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

class KeyStoreContract : public ::testing::TestWithParam<BackendParam> {};

}  // namespace tessera::hsm::testing
