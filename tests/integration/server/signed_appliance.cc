#include "tests/integration/server/signed_appliance.h"

#include <cstdio>

#include "base/system_clock.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "protocol/audit/envelope.h"
#include "server/store/audit_blocks.h"

namespace tessera::testing {

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kSoft:
      return "Soft";
    case Backend::kTpm:
      return "Swtpm";
    case Backend::kPkcs11:
      return "SoftHsm2";
  }
  return "Unknown";
}

SignedAppliance::SignedAppliance(std::filesystem::path dir, Backend backend)
    : dir_(std::move(dir)), backend_(backend) {}

Status SignedAppliance::Init() {
  switch (backend_) {
    case Backend::kSoft:
      uri_ = "soft:" + (dir_ / "identity.pem").string();
      break;
    case Backend::kTpm:
      tpm_ = std::make_unique<hsm::testing::Swtpm>((dir_ / "tpm").string());
      tpm_->Start();
      uri_ = "tpm:tcti=" + tpm_->tcti();
      break;
    case Backend::kPkcs11:
      token_ = std::make_unique<hsm::testing::SoftHsmToken>((dir_ / "hsm").string(), "tessera-test",
                                                            "1234");
      uri_ = token_->uri();
      break;
  }
  {
    hsm::OpenOptions open;
    open.allow_insecure = true;
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> store, hsm::OpenKeyStore(uri_, open));
    TESSERA_ASSIGN_OR_RETURN(hsm::ProvisionResult provisioned, hsm::Provision(*store, {}));
    appliance_id_ = provisioned.appliance_id;
    TESSERA_ASSIGN_OR_RETURN(spki_, store->PublicKeyDer());
  }  // closed: tesserad opens the device itself

  audit::CertificateRequest request;
  request.identity_public_key = spki_;
  request.customer = "Example Corp";
  request.not_before = RealClock().Now() - std::chrono::hours(1);
  request.not_after = RealClock().Now() + std::chrono::hours(24 * 365);
  request.serial = 7;
  TESSERA_ASSIGN_OR_RETURN(v1::SignedEnvelope cert,
                           audit::IssueCertificate(request, vendor_.signer(), vendor_.spki()));
  const std::string bytes = cert.SerializeAsString();
  FILE* f = std::fopen(certificate_path().c_str(), "wb");
  if (f == nullptr) return Internal("cannot write " + certificate_path().string());
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !written)
    return Internal("cannot write " + certificate_path().string());
  return Status::Ok();
}

std::vector<std::string> SignedAppliance::TesseradArgs() const {
  std::vector<std::string> args = {"--key-uri", uri_, "--certificate", certificate_path().string()};
  if (backend_ == Backend::kSoft) args.push_back("--insecure-dev-keys");
  return args;
}

std::unique_ptr<RawClient> HelloClient(std::uint16_t port, const std::string& client_id) {
  auto c = std::make_unique<RawClient>();
  Status connected = c->Connect(port);
  EXPECT_TRUE(connected.ok()) << connected.ToString();
  if (!connected.ok()) return nullptr;
  auto hello = c->Hello(client_id);
  EXPECT_TRUE(hello.ok() && hello->has_hello_reply());
  if (!hello.ok() || !hello->has_hello_reply()) return nullptr;
  return c;
}

std::vector<v1::AuditBlock> StoredBlocks(const std::filesystem::path& db) {
  auto blocks = store::ReadAuditBlocks(db.string(), 0, 100'000);
  EXPECT_TRUE(blocks.ok()) << blocks.status().ToString();
  return blocks.ok() ? *blocks : std::vector<v1::AuditBlock>{};
}

std::vector<v1::AuditEvent> EventsOfKind(const std::vector<v1::AuditBlock>& blocks,
                                         v1::AuditEventKind kind) {
  std::vector<v1::AuditEvent> out;
  for (const auto& b : blocks) {
    for (const auto& leaf : b.events()) {
      v1::AuditEvent e;
      if (e.ParseFromString(leaf) && e.kind() == kind) out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace tessera::testing
