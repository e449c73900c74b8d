// The KeyStore contract against a TPM: a fresh swtpm child process per test.
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/integration/hsm/key_store_contract.h"

namespace tessera::hsm::testing {
namespace {

class TpmHarness final : public BackendHarness {
 public:
  explicit TpmHarness(const std::string& dir) : swtpm_(dir + "/tpm") { swtpm_.Start(); }
  std::string uri() const override { return "tpm:tcti=" + swtpm_.tcti(); }
  void RestartDevice() override {
    swtpm_.Stop();
    swtpm_.Start();
  }
  bool has_trusted_clock() const override { return true; }
  bool has_hardware_counter() const override { return true; }

 private:
  Swtpm swtpm_;
};

INSTANTIATE_TEST_SUITE_P(Tpm, KeyStoreContract,
                         ::testing::Values(BackendParam{
                             "swtpm",
                             [](const std::string& dir) -> std::unique_ptr<BackendHarness> {
                               return std::make_unique<TpmHarness>(dir);
                             }}),
                         BackendName);

}  // namespace
}  // namespace tessera::hsm::testing
