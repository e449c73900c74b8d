// tesserad's configuration: a JSON file (docs/SERVER.md lists every key and its default),
// overridden by command-line flags.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tessera::server {

struct ServerConfig {
  std::string listen = "0.0.0.0:7400";  // HOST:PORT; port 0 picks a free port
  std::string port_file;                // when set, the bound port is written here
  std::string server_id = "tesserad";
  std::string entitlement_file;  // JSON entitlement; empty: no features
  std::string rules_file;        // JSON admin rules; empty: no rules
  std::string tls_cert_file;     // PEM; TLS 1.3 is on when both cert and key are set
  std::string tls_key_file;
  std::uint32_t max_connections = 10000;
  std::uint32_t max_in_flight = 64;
  std::uint32_t max_frame_bytes = 1u << 20;
  std::uint32_t read_timeout_ms = 10'000;      // a started frame must complete within this
  std::uint32_t idle_timeout_ms = 300'000;     // no complete frame for this long: close
  std::uint32_t write_queue_bytes = 1u << 20;  // unsent bytes per connection before cutting
  std::uint32_t drain_grace_ms = 3'000;
  std::uint32_t io_threads = 2;
  std::string log_level = "info";
  std::uint64_t lease_id_seed = 0;                        // 0: derived from the start time
  std::string database = "/var/lib/tessera/tesserad.db";  // the durable store (SQLite)
  std::uint32_t store_resync_ms = 2'000;  // while the store cannot write: resync this often
  // Test/ops hook: cap the database at this many pages (0: no cap). Writes beyond it fail
  // like a full disk. SIGHUP re-reads it from the config file.
  std::uint64_t store_max_page_count = 0;
  // The identity key store (docs/HSM.md): tpm:, pkcs11: or soft:. Empty: no identity key.
  std::string key_uri;
  bool insecure_dev_keys = false;  // allow a soft: (file) key store: development only
  // The appliance certificate issued by the vendor for the identity key (a serialized
  // SignedEnvelope, `tessera-vendor certify`); lease tokens carry it. Empty: none.
  std::string certificate_file;
  std::string config_file;  // not a key: the file this came from (SIGHUP re-reads it)
};

// Parses a JSON config document. Unknown keys and wrong types are errors naming the key.
Result<ServerConfig> ParseConfig(const std::string& json_text);

// Reads and parses a config file.
Result<ServerConfig> LoadConfigFile(const std::string& path);

// Checks ranges and combinations (e.g. a TLS cert without a key).
Status ValidateConfig(const ServerConfig& config);

// Splits "HOST:PORT" ("[::1]:7400" for IPv6).
Status SplitHostPort(const std::string& addr, std::string* host, std::uint16_t* port);

// Reads a whole file. Errors: kNotFound, kUnavailable.
Result<std::string> ReadFileToString(const std::string& path);

}  // namespace tessera::server
