// The KeyStore contract against the software backend.
#include "tests/integration/hsm/key_store_contract.h"

namespace tessera::hsm::testing {
namespace {

class SoftHarness final : public BackendHarness {
 public:
  explicit SoftHarness(const std::string& dir) : uri_("soft:" + dir + "/identity.pem") {}
  std::string uri() const override { return uri_; }
  OpenOptions options() const override { return {.allow_insecure = true}; }
  std::vector<std::string> cli_flags() const override { return {"--insecure-dev-keys"}; }
  bool has_trusted_clock() const override { return false; }
  bool has_hardware_counter() const override { return false; }

 private:
  std::string uri_;
};

INSTANTIATE_TEST_SUITE_P(Soft, KeyStoreContract,
                         ::testing::Values(BackendParam{
                             "soft",
                             [](const std::string& dir) -> std::unique_ptr<BackendHarness> {
                               return std::make_unique<SoftHarness>(dir);
                             }}),
                         BackendName);

}  // namespace
}  // namespace tessera::hsm::testing
