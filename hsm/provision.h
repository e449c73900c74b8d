// Provisioning: create the identity key and the monotonic counter, once.
//
// Thread safety: as the KeyStore passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/encoding.h"
#include "base/status.h"
#include "hsm/key_store.h"

namespace tessera::hsm {

struct ProvisionOptions {
  // Replace an existing identity key. The appliance id changes and every certificate and
  // bundle issued for the old id stops applying.
  bool force = false;
};

struct ProvisionResult {
  bool created = false;  // false: a key existed and was kept
  Bytes public_key_der;  // SubjectPublicKeyInfo
  std::string appliance_id;
  std::optional<uint64_t> counter;  // current value, when the store has a counter
};

// Creates the identity key unless one exists (or replaces it with `force`), initialises
// the monotonic counter where the store has one, and checks the key signs: a signature
// over a fixed message is verified in software.
// Running it twice without `force` is harmless: the existing key is kept and reported
// (created = false).
Result<ProvisionResult> Provision(KeyStore& store, const ProvisionOptions& options);

// Capabilities as short words: "counter(hardware) clock" etc.
std::string DescribeCapabilities(const Capabilities& caps);

}  // namespace tessera::hsm
