// The KeyStore contract against PKCS#11: a fresh SoftHSM2 token per test.
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/integration/hsm/key_store_contract.h"

namespace tessera::hsm::testing {
namespace {

class Pkcs11Harness final : public BackendHarness {
 public:
  explicit Pkcs11Harness(const std::string& dir)
      : token_(dir + "/softhsm", "tessera-test", "1234") {}
  std::string uri() const override { return token_.uri(); }
  bool has_trusted_clock() const override { return false; }
  bool has_hardware_counter() const override { return false; }

 private:
  SoftHsmToken token_;
};

INSTANTIATE_TEST_SUITE_P(Pkcs11, KeyStoreContract,
                         ::testing::Values(BackendParam{
                             "softhsm2",
                             [](const std::string& dir) -> std::unique_ptr<BackendHarness> {
                               return std::make_unique<Pkcs11Harness>(dir);
                             }}),
                         BackendName);

}  // namespace
}  // namespace tessera::hsm::testing
