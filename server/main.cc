// tesserad: the Tessera license server daemon. See docs/SERVER.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/daemon.h"
#include "server/license_files.h"
#include "server/log.h"
#include "server/store/store.h"

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace {

using tessera::server::ServerConfig;

// A flag that, when given, overrides one config key.
struct Overrides {
  std::vector<std::function<void(ServerConfig*)>> apply;

  template <typename T>
  void Add(CLI::App& app, const std::string& flag, T ServerConfig::*field,
           const std::string& help) {
    auto value = std::make_shared<T>();
    CLI::Option* opt =
        app.add_option(flag, *value, help)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    apply.push_back([opt, value, field](ServerConfig* c) {
      if (opt->count() > 0) c->*field = *value;
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace tessera::server;  // NOLINT(google-build-using-namespace): main only
  CLI::App app{
      "tesserad: the Tessera floating license server.\n"
      "Serves seat leases to client applications over tessera.v1 (Protobuf over TCP, optional\n"
      "TLS 1.3). Settings come from --config (JSON, see docs/SERVER.md); flags override it.\n"
      "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the entitlement and rules.\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 bad command line, 3 bad config/entitlement/\n"
      "rules/TLS files, 4 cannot listen or write the port file, 5 the database cannot be\n"
      "opened, read or written at start (corrupt, read-only, newer schema), 6 the key store\n"
      "cannot be opened, holds no identity key, or is a soft: store without --insecure-dev-keys.\n"
      "`tesserad backup --db PATH --to FILE` copies a live database (online, consistent).",
      "tesserad"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "JSON config file")->check(CLI::ExistingFile);
  Overrides o;
  o.Add(app, "--listen", &ServerConfig::listen, "Listen address HOST:PORT (default 0.0.0.0:7400)");
  o.Add(app, "--port-file", &ServerConfig::port_file,
        "Write the bound port to this file once listening");
  o.Add(app, "--server-id", &ServerConfig::server_id, "Server name in HelloReply and logs");
  o.Add(app, "--entitlement", &ServerConfig::entitlement_file, "Entitlement JSON file");
  o.Add(app, "--rules", &ServerConfig::rules_file, "Admin rules JSON file");
  o.Add(app, "--tls-cert", &ServerConfig::tls_cert_file, "PEM certificate chain (enables TLS 1.3)");
  o.Add(app, "--tls-key", &ServerConfig::tls_key_file, "PEM private key for --tls-cert");
  o.Add(app, "--max-connections", &ServerConfig::max_connections,
        "Open connections at most (default 10000)");
  o.Add(app, "--max-in-flight", &ServerConfig::max_in_flight,
        "Requests in flight per connection (default 64)");
  o.Add(app, "--max-frame-bytes", &ServerConfig::max_frame_bytes,
        "Largest accepted frame (default 1048576)");
  o.Add(app, "--read-timeout-ms", &ServerConfig::read_timeout_ms,
        "A started frame must complete within this (default 10000)");
  o.Add(app, "--idle-timeout-ms", &ServerConfig::idle_timeout_ms,
        "Close connections silent this long (default 300000)");
  o.Add(app, "--write-queue-bytes", &ServerConfig::write_queue_bytes,
        "Unsent bytes per connection before it is cut (default 1048576)");
  o.Add(app, "--drain-grace-ms", &ServerConfig::drain_grace_ms,
        "On SIGTERM, wait this long for clients to leave (default 3000)");
  o.Add(app, "--io-threads", &ServerConfig::io_threads, "Network threads (default 2)");
  o.Add(app, "--log-level", &ServerConfig::log_level, "debug, info, warn or error (default info)");
  o.Add(app, "--key-uri", &ServerConfig::key_uri,
        "Identity key store URI: tpm:..., pkcs11:... or soft:FILE (docs/HSM.md)");
  o.Add(app, "--certificate", &ServerConfig::certificate_file,
        "Appliance certificate from the vendor (tessera-vendor certify); lease tokens carry it");
  bool insecure_dev_keys = false;
  app.add_flag("--insecure-dev-keys", insecure_dev_keys,
               "Allow a soft: (file) key store. Development and tests only: INSECURE");
  o.apply.push_back([&insecure_dev_keys](ServerConfig* c) {
    if (insecure_dev_keys) c->insecure_dev_keys = true;
  });
  o.Add(app, "--db", &ServerConfig::database,
        "SQLite database file (default /var/lib/tessera/tesserad.db)");
  o.Add(app, "--lease-id-seed", &ServerConfig::lease_id_seed,
        "First lease id (default: derived from the start time)");
  CLI::App* backup = app.add_subcommand("backup", "Copy a live database to FILE and exit");
  std::string backup_db;
  std::string backup_to;
  backup->add_option("--db", backup_db, "The live database")->required();
  backup->add_option("--to", backup_to, "Destination file (must not exist)")->required();
  CLI::App* accept = app.add_subcommand(
      "accept-rollback",
      "After a detected rollback: accept the database as it is (docs/TRUST.md) and exit");
  std::string actor;
  accept->add_option("--actor", actor, "Who accepts (recorded in the audit chain)")->required();
  app.add_flag("--check", check_only,
               "Validate the config, entitlement, rules and TLS files, then exit");
  app.add_flag_callback(
      "--version",
      []() {
        std::printf("tesserad %s\n", TESSERA_VERSION);
        throw CLI::Success();
      },
      "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (backup->parsed()) {
    tessera::Status s = tessera::store::BackupDatabase(backup_db, backup_to);
    if (!s.ok()) {
      Log(LogLevel::kError, "backup_failed", {{"error", s.ToString()}});
      return kExitStoreFailure;
    }
    Log(LogLevel::kInfo, "backup_done", {{"database", backup_db}, {"to", backup_to}});
    return kExitOk;
  }
  ServerConfig config;
  if (!config_path.empty()) {
    auto loaded = LoadConfigFile(config_path);
    if (!loaded.ok()) {
      Log(LogLevel::kError, "bad_config", {{"error", loaded.status().ToString()}});
      return kExitBadConfig;
    }
    config = *loaded;
    config.config_file = config_path;
  }
  for (auto& apply : o.apply) apply(&config);
  tessera::Status valid = ValidateConfig(config);
  if (!valid.ok()) {
    Log(LogLevel::kError, "bad_config", {{"error", valid.ToString()}});
    return kExitBadConfig;
  }
  if (accept->parsed()) return AcceptRollback(config, actor);
  if (check_only) {
    auto e = LoadEntitlementFile(config.entitlement_file);
    auto r = LoadRulesFile(config.rules_file);
    if (!e.ok() || !r.ok()) {
      Log(LogLevel::kError, "bad_config",
          {{"error", (e.ok() ? r.status() : e.status()).ToString()}});
      return kExitBadConfig;
    }
    Log(LogLevel::kInfo, "config_ok", {{"features", std::to_string(e->features.size())}});
    return kExitOk;
  }
  try {
    return RunDaemon(config);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "runtime_failure", {{"what", e.what()}});
    return kExitRuntimeFailure;
  }
}
