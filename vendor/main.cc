// `tessera-vendor`: the vendor back office (development commands for now; docs/AUDIT.md).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "vendor/vendor_commands.h"

namespace {

int Main(int argc, char** argv) {
  CLI::App app{"tessera-vendor: Tessera vendor back office"};
  app.require_subcommand(1);

  std::string dev_dir;
  CLI::App* dev_init =
      app.add_subcommand("dev-init", "Create a development vendor root key (insecure)");
  dev_init->add_option("--dir", dev_dir, "Directory for the key and public key files")->required();

  tessera::vendor::CertifyOptions cert;
  CLI::App* certify = app.add_subcommand("certify", "Issue an appliance certificate");
  certify->add_option("--vendor-key", cert.vendor_key_uri, "Vendor root key URI")->required();
  certify->add_flag("--insecure-dev-keys", cert.insecure_dev_keys,
                    "Allow soft: key files (development only)");
  certify->add_option("--appliance-key-spki", cert.appliance_key_spki,
                      "Appliance identity public key file (DER SubjectPublicKeyInfo)");
  certify->add_option("--appliance-key-uri", cert.appliance_key_uri,
                      "Read the appliance identity key from this key store instead");
  certify->add_option("--customer", cert.customer, "Customer name")->required();
  certify->add_option("--days", cert.days, "Validity in days from now")->required();
  certify->add_option("--serial", cert.serial, "Serial number (default: issue time in ms)");
  certify->add_option("--out", cert.out_path, "Certificate file to write")->required();

  std::string export_path;
  std::string vendor_pub;
  CLI::App* audit = app.add_subcommand("audit", "Audit exports");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand("verify", "Verify an audit export offline");
  verify->add_option("file", export_path, "AuditExport file")->required();
  verify->add_option("--vendor-pub", vendor_pub, "Vendor root public key (DER SPKI)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (dev_init->parsed()) return tessera::vendor::RunDevInit(dev_dir, std::cout, std::cerr);
  if (certify->parsed()) return tessera::vendor::RunCertify(cert, std::cout, std::cerr);
  if (verify->parsed()) {
    return tessera::vendor::RunAuditVerify(export_path, vendor_pub, std::cout, std::cerr);
  }
  return tessera::vendor::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tessera-vendor: error: " << e.what() << "\n";
    return tessera::vendor::kExitError;
  }
}
