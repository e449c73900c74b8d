// `tessera`: the appliance admin CLI (docs/ADMIN.md).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <limits>

#include "admin/cli/audit_commands.h"
#include "admin/cli/key_commands.h"

namespace {

namespace cli = tessera::cli;

void AddKeyStoreFlags(CLI::App& cmd, cli::KeyStoreFlags& flags) {
  cmd.add_option("--key-uri", flags.key_uri,
                 "Key store URI: tpm:..., pkcs11:... or soft:... (see docs/HSM.md)")
      ->required();
  cmd.add_flag("--insecure-dev-keys", flags.insecure_dev_keys,
               "Allow the software key store (key in a file; development only)");
}

void AddInput(CLI::App& cmd, cli::AuditInput& input) {
  CLI::Option* db = cmd.add_option("--db", input.db_path, "tesserad's database (read-only)");
  CLI::Option* file = cmd.add_option("--export", input.export_path, "An audit export file");
  db->excludes(file);
}

void AddTrust(CLI::App& cmd, cli::TrustFlags& trust) {
  cmd.add_option("--vendor-pub", trust.vendor_pub,
                 "Trust: the vendor root public key (DER or PEM); the appliance certificate is "
                 "verified with it");
  cmd.add_option("--certificate", trust.certificate,
                 "With --vendor-pub: the appliance certificate file (default: the one stored "
                 "in the database or export)");
  cmd.add_option("--appliance-pub", trust.appliance_pub,
                 "Trust: the appliance identity public key (DER or PEM)");
  cmd.add_option("--key-uri", trust.key_uri,
                 "Trust: read the identity public key from this key store (see docs/HSM.md)");
  cmd.add_flag("--insecure-dev-keys", trust.insecure_dev_keys,
               "Allow a soft: key store (development only)");
}

// Sequences and counts are stored as SQLite integers: 0..2^63-1. (A bare uint64 option would
// take "-1" as 2^64-1.)
CLI::Validator NonNegative() {
  return CLI::Range(uint64_t{0}, uint64_t{std::numeric_limits<int64_t>::max()});
}

void AddPageSize(CLI::App& cmd, size_t& page_size) {
  // Hidden (empty group): for tests of the paging itself.
  cmd.add_option("--page-size", page_size, "Blocks per read")->group("");
}

struct AuditCommands {
  cli::AuditVerifyOptions verify_options;
  cli::AuditShowOptions show_options;
  cli::AuditExportOptions export_options;
  CLI::App* verify = nullptr;
  CLI::App* show = nullptr;
  CLI::App* exporter = nullptr;
};

void AddAudit(CLI::App& app, AuditCommands& a) {
  CLI::App* audit = app.add_subcommand("audit", "Verify, show and export the audit chain");
  audit->require_subcommand(1);

  a.verify = audit->add_subcommand(
      "verify",
      "Verify offline every block signature, link, sequence and Merkle root. Exit 0 verified, "
      "1 verification failed, 2 bad usage or unreadable input");
  AddInput(*a.verify, a.verify_options.input);
  AddTrust(*a.verify, a.verify_options.trust);
  a.verify
      ->add_option("--from", a.verify_options.from,
                   "Verify from this block sequence on (linked to the block before it)")
      ->check(NonNegative());
  AddPageSize(*a.verify, a.verify_options.page_size);

  a.show = audit->add_subcommand(
      "show",
      "Print events, one per line. Nothing is verified unless --verify is given with a trust "
      "option (--vendor-pub, --appliance-pub or --key-uri)");
  AddInput(*a.show, a.show_options.input);
  a.show->add_option("--from", a.show_options.from, "First block sequence shown")
      ->check(NonNegative());
  a.show->add_option("--limit", a.show_options.limit, "Show at most this many events")
      ->check(NonNegative());
  a.show->add_flag("--json", a.show_options.json, "One JSON object per line");
  a.show->add_flag("--verify", a.show_options.verify,
                   "Show only blocks that verify; stop at the first bad one (exit 1)");
  AddTrust(*a.show, a.show_options.trust);
  AddPageSize(*a.show, a.show_options.page_size);

  a.exporter = audit->add_subcommand(
      "export", "Write blocks of the database as an audit export file (for the vendor)");
  a.exporter->add_option("--db", a.export_options.db_path, "tesserad's database (read-only)")
      ->required();
  a.exporter->add_option("--out", a.export_options.out_path, "The export file to write")
      ->required();
  a.exporter->add_option("--from", a.export_options.from, "First block sequence exported")
      ->check(NonNegative());
  a.exporter->add_option("--limit", a.export_options.limit, "Export at most this many blocks")
      ->check(NonNegative());
  a.exporter->add_option("--certificate", a.export_options.certificate,
                         "Appliance certificate file (default: the one in the database)");
  a.exporter->add_option("--key-uri", a.export_options.key_uri,
                         "The appliance's key store: advance its monotonic counter (recorded in "
                         "the database) so older copies of the database are detected");
  a.exporter->add_flag("--insecure-dev-keys", a.export_options.insecure_dev_keys,
                       "Allow a soft: key store (development only)");
  AddPageSize(*a.exporter, a.export_options.page_size);
}

int Main(int argc, char** argv) {
  CLI::App app{"tessera: Tessera appliance administration"};
  app.require_subcommand(1);

  cli::KeyStoreFlags provision_flags;
  bool force = false;
  CLI::App* provision = app.add_subcommand(
      "provision", "Create the identity key and counter; print the appliance id");
  AddKeyStoreFlags(*provision, provision_flags);
  provision->add_flag("--force", force,
                      "Replace an existing identity key (the appliance id changes)");

  cli::KeyStoreFlags key_flags;
  CLI::App* key = app.add_subcommand("key", "Inspect the identity key");
  key->require_subcommand(1);
  CLI::App* info = key->add_subcommand("info", "Print appliance id, public key and capabilities");
  AddKeyStoreFlags(*info, key_flags);

  AuditCommands audit;
  AddAudit(app, audit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version exit 0; every usage error exits 2, like a bad file.
    return app.exit(e) == 0 ? 0 : cli::kExitUsage;
  }
  if (provision->parsed()) return cli::RunProvision(provision_flags, force, std::cout, std::cerr);
  if (info->parsed()) return cli::RunKeyInfo(key_flags, std::cout, std::cerr);
  if (audit.verify->parsed()) {
    return cli::RunAuditVerify(audit.verify_options, std::cout, std::cerr);
  }
  if (audit.show->parsed()) return cli::RunAuditShow(audit.show_options, std::cout, std::cerr);
  if (audit.exporter->parsed()) {
    return cli::RunAuditExport(audit.export_options, std::cout, std::cerr);
  }
  return cli::kExitUsage;
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
