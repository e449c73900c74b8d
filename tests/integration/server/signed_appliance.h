// An appliance identity for tesserad in tests: an identity key in the chosen backend (a soft:
// PEM file, a fresh swtpm child, a fresh SoftHSM2 token), provisioned, and certified by an
// in-memory test vendor key.
// Thread safety: not thread-safe; use from the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "tessera/v1/audit.pb.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/support/raw_client.h"
#include "tests/unit/audit/test_key.h"

namespace tessera::testing {

enum class Backend { kSoft, kTpm, kPkcs11 };

// "Soft", "Swtpm", "SoftHsm2": names for parameterized tests.
std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

class SignedAppliance {
 public:
  // Files go under `dir` (it must exist): identity.pem, tpm/, hsm/, appliance.cert.
  SignedAppliance(std::filesystem::path dir, Backend backend);

  // Starts the device, provisions the key and writes the certificate (valid from an hour
  // ago for a year, customer "Example Corp").
  Status Init();

  const std::string& uri() const { return uri_; }
  const std::string& appliance_id() const { return appliance_id_; }
  const Bytes& spki() const { return spki_; }
  audit::testing::TestKey& vendor() { return vendor_; }
  std::filesystem::path certificate_path() const { return dir_ / "appliance.cert"; }

  // tesserad flags for this identity: --key-uri, --certificate (and --insecure-dev-keys for
  // a soft: key).
  std::vector<std::string> TesseradArgs() const;

 private:
  std::filesystem::path dir_;
  Backend backend_;
  std::unique_ptr<hsm::testing::Swtpm> tpm_;
  std::unique_ptr<hsm::testing::SoftHsmToken> token_;
  std::string uri_;
  std::string appliance_id_;
  Bytes spki_;
  audit::testing::TestKey vendor_;
};

// A client connected to 127.0.0.1:port that has completed Hello (null, with a test
// failure, when it could not).
std::unique_ptr<RawClient> HelloClient(std::uint16_t port, const std::string& client_id);

// The audit blocks stored in the database at `db` (read-only; a test failure when they
// cannot be read).
std::vector<v1::AuditBlock> StoredBlocks(const std::filesystem::path& db);

// The events of `kind` in `blocks`, in chain order.
std::vector<v1::AuditEvent> EventsOfKind(const std::vector<v1::AuditBlock>& blocks,
                                         v1::AuditEventKind kind);

}  // namespace tessera::testing
