// Sign rate of each key-store backend on real devices (a swtpm child process, a SoftHSM2
// token) next to the software backend and to software verification. One process, one
// fresh device each; every iteration is one full Sign call (host SHA-256, device
// signature, 64-byte r||s). Rates are wall-clock (UseRealTime): the device, not the calling
// thread, does the work.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>

#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "tests/integration/hsm/hsm_test_env.h"

namespace tessera::hsm {
namespace {

constexpr std::string_view kMessage = "audit block header: sequence, previous hash, merkle root";

std::span<const uint8_t> Message() {
  return {reinterpret_cast<const uint8_t*>(kMessage.data()), kMessage.size()};
}

void BM_Sign(benchmark::State& state, KeyStore* store) {
  for (auto _ : state) {
    auto sig = store->Sign(Message());
    if (!sig.ok()) {
      state.SkipWithError(sig.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Verify(benchmark::State& state, KeyStore* store) {
  Bytes spki = store->PublicKeyDer().value();
  Signature sig = store->Sign(Message()).value();
  for (auto _ : state) {
    Status ok = VerifySignature(spki, Message(), sig);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyParsedKey(benchmark::State& state, KeyStore* store) {
  Verifier verifier = Verifier::Create(store->PublicKeyDer().value()).value();
  Signature sig = store->Sign(Message()).value();
  for (auto _ : state) {
    Status ok = verifier.Verify(Message(), sig);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

std::unique_ptr<KeyStore> OpenProvisioned(const std::string& uri, bool insecure) {
  auto store = OpenKeyStore(uri, {.allow_insecure = insecure});
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", uri.c_str(), store.status().ToString().c_str());
    return nullptr;
  }
  auto provisioned = Provision(**store, {});
  if (!provisioned.ok()) {
    std::fprintf(stderr, "cannot provision %s: %s\n", uri.c_str(),
                 provisioned.status().ToString().c_str());
    return nullptr;
  }
  return std::move(store).value();
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  testing::TempDir dir;
  auto soft = OpenProvisioned("soft:" + dir.path() + "/identity.pem", true);
  if (soft) {
    benchmark::RegisterBenchmark("sign/soft", BM_Sign, soft.get())->UseRealTime();
    benchmark::RegisterBenchmark("verify/openssl", BM_Verify, soft.get())->UseRealTime();
    benchmark::RegisterBenchmark("verify/openssl-parsed-key", BM_VerifyParsedKey, soft.get())
        ->UseRealTime();
  }
#if TESSERA_BENCH_WITH_TPM
  std::optional<testing::Swtpm> swtpm;
  swtpm.emplace(dir.path() + "/tpm");
  swtpm->Start();
  auto tpm = OpenProvisioned("tpm:tcti=" + swtpm->tcti(), false);
  if (tpm) {
    benchmark::RegisterBenchmark("sign/swtpm", BM_Sign, tpm.get())->UseRealTime();
    benchmark::RegisterBenchmark("sign/swtpm", BM_Sign, tpm.get())->Threads(4)->UseRealTime();
  }
#endif
#if TESSERA_BENCH_WITH_PKCS11
  testing::SoftHsmToken token(dir.path() + "/softhsm", "bench", "1234");
  auto p11 = OpenProvisioned(token.uri(), false);
  if (p11) benchmark::RegisterBenchmark("sign/softhsm2", BM_Sign, p11.get())->UseRealTime();
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace tessera::hsm

int main(int argc, char** argv) {
  try {
    return tessera::hsm::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hsm_sign_bench: %s\n", e.what());
    return 1;
  }
}
