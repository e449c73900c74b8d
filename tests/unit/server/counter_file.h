// Test doubles for the rollback guard: a CounterRecord kept in a file (a "database" that can
// be copied and restored like a backup), and a KeyStore wrapper that injects faults.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "hsm/key_store.h"
#include "server/time/rollback.h"

namespace tessera::trust::testing {

// The recorded counter value as a decimal number in `path`; no file = nothing recorded.
// `after_save`, when set, runs after each successful Save (to simulate a crash there).
class FileCounterRecord final : public CounterRecord {
 public:
  explicit FileCounterRecord(std::string path) : path_(std::move(path)) {}
  Result<std::optional<uint64_t>> Load() override;
  Status Save(uint64_t value) override;
  std::function<void()> after_save;
  int saves = 0;

 private:
  std::string path_;
};

void CopyFile(const std::string& from, const std::string& to);

// Delegates to `inner`; fails IncrementCounter / ReadCounter with `fail_with` while set, and
// can hide the counter capability.
class FaultyKeyStore final : public hsm::KeyStore {
 public:
  explicit FaultyKeyStore(hsm::KeyStore& inner) : inner_(inner) {}

  std::optional<Status> fail_increment;
  std::optional<Status> fail_read;
  bool hide_counter = false;
  int increments = 0;

  std::string_view backend() const override { return inner_.backend(); }
  bool insecure() const override { return inner_.insecure(); }
  hsm::Capabilities capabilities() const override;
  Result<Bytes> PublicKeyDer() override { return inner_.PublicKeyDer(); }
  Result<hsm::Signature> SignDigest(const hsm::Digest& d) override { return inner_.SignDigest(d); }
  Status CreateKey(bool replace) override { return inner_.CreateKey(replace); }
  Status InitCounter() override { return inner_.InitCounter(); }
  Result<uint64_t> ReadCounter() override;
  Result<uint64_t> IncrementCounter() override;
  Result<hsm::ClockTuple> ReadClock() override { return inner_.ReadClock(); }

 private:
  hsm::KeyStore& inner_;
};

}  // namespace tessera::trust::testing
