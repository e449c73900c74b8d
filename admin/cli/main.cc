// `tessera`: the appliance admin CLI.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "admin/cli/key_commands.h"

namespace {

void AddKeyStoreFlags(CLI::App& cmd, tessera::cli::KeyStoreFlags& flags) {
  cmd.add_option("--key-uri", flags.key_uri,
                 "Key store URI: tpm:..., pkcs11:... or soft:... (see docs/HSM.md)")
      ->required();
  cmd.add_flag("--insecure-dev-keys", flags.insecure_dev_keys,
               "Allow the software key store (key in a file; development only)");
}

int Main(int argc, char** argv) {
  CLI::App app{"tessera: Tessera appliance administration"};
  app.require_subcommand(1);

  tessera::cli::KeyStoreFlags provision_flags;
  bool force = false;
  CLI::App* provision = app.add_subcommand(
      "provision", "Create the identity key and counter; print the appliance id");
  AddKeyStoreFlags(*provision, provision_flags);
  provision->add_flag("--force", force,
                      "Replace an existing identity key (the appliance id changes)");

  tessera::cli::KeyStoreFlags key_flags;
  CLI::App* key = app.add_subcommand("key", "Inspect the identity key");
  key->require_subcommand(1);
  CLI::App* info = key->add_subcommand("info", "Print appliance id, public key and capabilities");
  AddKeyStoreFlags(*info, key_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (provision->parsed()) {
    return tessera::cli::RunProvision(provision_flags, force, std::cout, std::cerr);
  }
  if (info->parsed()) return tessera::cli::RunKeyInfo(key_flags, std::cout, std::cerr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tessera: error: " << e.what() << "\n";
    return 1;
  }
}
