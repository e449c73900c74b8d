#include "admin/cli/key_commands.h"

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"

namespace tessera::cli {
namespace {

int Fail(std::ostream& err, const Status& s) {
  err << "tessera: error: " << s.ToString() << "\n";
  return 1;
}

Result<std::unique_ptr<hsm::KeyStore>> Open(const KeyStoreFlags& flags) {
  hsm::OpenOptions options;
  options.allow_insecure = flags.insecure_dev_keys;
  return hsm::OpenKeyStore(flags.key_uri, options);
}

void PrintInsecure(const hsm::KeyStore& store, std::ostream& out) {
  if (hsm::IsInsecure(store)) {
    out << "insecure: yes (software key store: development only)\n";
  }
}

}  // namespace

int RunProvision(const KeyStoreFlags& flags, bool force, std::ostream& out, std::ostream& err) {
  auto store = Open(flags);
  if (!store.ok()) return Fail(err, store.status());
  auto result = hsm::Provision(**store, {.force = force});
  if (!result.ok()) return Fail(err, result.status());
  if (!result->created) {
    out << "identity key exists; kept it (use --force to replace it and change the appliance "
           "id)\n";
  } else if (force) {
    out << "identity key created (any previous key was destroyed)\n";
  } else {
    out << "identity key created\n";
  }
  PrintInsecure(**store, out);
  out << "appliance id: " << result->appliance_id << "\n";
  if (result->counter) out << "counter: " << *result->counter << "\n";
  return 0;
}

int RunKeyInfo(const KeyStoreFlags& flags, std::ostream& out, std::ostream& err) {
  auto store = Open(flags);
  if (!store.ok()) return Fail(err, store.status());
  hsm::KeyStore& ks = **store;
  auto spki = ks.PublicKeyDer();
  if (!spki.ok()) return Fail(err, spki.status());
  auto pem = hsm::SpkiToPem(*spki);
  if (!pem.ok()) return Fail(err, pem.status());

  out << "backend: " << ks.backend() << "\n";
  PrintInsecure(ks, out);
  out << "appliance id: " << hsm::ApplianceId(*spki) << "\n";
  out << "capabilities: " << hsm::DescribeCapabilities(ks.capabilities()) << "\n";
  if (ks.capabilities().monotonic_counter) {
    auto counter = ks.ReadCounter();
    if (counter.ok()) {
      out << "counter: " << *counter << "\n";
    } else {
      out << "counter: unavailable (" << counter.status().ToString() << ")\n";
    }
  }
  if (ks.capabilities().trusted_clock) {
    auto clock = ks.ReadClock();
    if (clock.ok()) {
      out << "clock: " << clock->clock_ms << " ms, reset count " << clock->reset_count
          << ", restart count " << clock->restart_count << ", safe " << (clock->safe ? "yes" : "no")
          << "\n";
    } else {
      out << "clock: unavailable (" << clock.status().ToString() << ")\n";
    }
  }
  out << "public key:\n" << *pem;
  return 0;
}

}  // namespace tessera::cli
