// `tessera provision` and `tessera key info`: the local key-store subcommands.
//
// Each returns the process exit code: 0 on success (including "a key exists and was
// kept"), 1 on failure, with a one-line "tessera: error: ..." on `err`.
#pragma once

#include <ostream>
#include <string>

namespace tessera::cli {

struct KeyStoreFlags {
  std::string key_uri;
  bool insecure_dev_keys = false;  // allows the soft: backend
};

// Creates the identity key and the monotonic counter, prints the appliance id. Without
// `force` an existing key is never replaced: its id is printed and the exit code is 0.
int RunProvision(const KeyStoreFlags& flags, bool force, std::ostream& out, std::ostream& err);

// Prints the appliance id, public key PEM, capabilities, counter and clock.
int RunKeyInfo(const KeyStoreFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace tessera::cli
