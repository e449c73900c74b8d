#include "server/config.h"

#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "protocol/framing.h"
#include "server/log.h"

namespace tessera::server {
namespace {

using Json = nlohmann::json;

Status GetString(const Json& v, const std::string& key, std::string* out) {
  if (!v.is_string()) return InvalidArgument("config key '" + key + "' must be a string");
  *out = v.get<std::string>();
  return Status::Ok();
}

template <typename T>
Status GetUnsigned(const Json& v, const std::string& key, T* out) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    return InvalidArgument("config key '" + key + "' must be a non-negative integer");
  }
  auto u = v.get<std::uint64_t>();
  if (u > std::numeric_limits<T>::max()) {
    return InvalidArgument("config key '" + key + "' is too large");
  }
  *out = static_cast<T>(u);
  return Status::Ok();
}

using Setter = std::function<Status(const Json&, ServerConfig*)>;

const std::map<std::string, Setter>& Setters() {
  static const auto* setters = [] {
    auto* m = new std::map<std::string, Setter>;
    auto str = [m](const std::string& key, std::string ServerConfig::*field) {
      (*m)[key] = [key, field](const Json& v, ServerConfig* c) {
        return GetString(v, key, &(c->*field));
      };
    };
    auto u32 = [m](const std::string& key, std::uint32_t ServerConfig::*field) {
      (*m)[key] = [key, field](const Json& v, ServerConfig* c) {
        return GetUnsigned(v, key, &(c->*field));
      };
    };
    str("listen", &ServerConfig::listen);
    str("port_file", &ServerConfig::port_file);
    str("server_id", &ServerConfig::server_id);
    str("entitlement_file", &ServerConfig::entitlement_file);
    str("rules_file", &ServerConfig::rules_file);
    str("tls_cert_file", &ServerConfig::tls_cert_file);
    str("tls_key_file", &ServerConfig::tls_key_file);
    str("log_level", &ServerConfig::log_level);
    str("database", &ServerConfig::database);
    str("key_uri", &ServerConfig::key_uri);
    str("certificate", &ServerConfig::certificate_file);
    (*m)["insecure_dev_keys"] = [](const Json& v, ServerConfig* c) {
      if (!v.is_boolean())
        return InvalidArgument("config key 'insecure_dev_keys' must be a boolean");
      c->insecure_dev_keys = v.get<bool>();
      return Status::Ok();
    };
    u32("store_resync_ms", &ServerConfig::store_resync_ms);
    u32("max_connections", &ServerConfig::max_connections);
    u32("max_in_flight", &ServerConfig::max_in_flight);
    u32("max_frame_bytes", &ServerConfig::max_frame_bytes);
    u32("read_timeout_ms", &ServerConfig::read_timeout_ms);
    u32("idle_timeout_ms", &ServerConfig::idle_timeout_ms);
    u32("write_queue_bytes", &ServerConfig::write_queue_bytes);
    u32("drain_grace_ms", &ServerConfig::drain_grace_ms);
    u32("io_threads", &ServerConfig::io_threads);
    (*m)["lease_id_seed"] = [](const Json& v, ServerConfig* c) {
      return GetUnsigned(v, "lease_id_seed", &c->lease_id_seed);
    };
    (*m)["store_max_page_count"] = [](const Json& v, ServerConfig* c) {
      return GetUnsigned(v, "store_max_page_count", &c->store_max_page_count);
    };
    return m;
  }();
  return *setters;
}

}  // namespace

Result<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Unavailable("cannot read '" + path + "'");
  return ss.str();
}

Result<ServerConfig> ParseConfig(const std::string& json_text) {
  Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("config is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("config must be a JSON object");
  ServerConfig config;
  for (const auto& [key, value] : doc.items()) {
    auto it = Setters().find(key);
    if (it == Setters().end()) return InvalidArgument("unknown config key '" + key + "'");
    TESSERA_RETURN_IF_ERROR(it->second(value, &config));
  }
  return config;
}

Result<ServerConfig> LoadConfigFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto config = ParseConfig(text);
  if (!config.ok()) return config.status().Annotate(path);
  return config;
}

Status SplitHostPort(const std::string& addr, std::string* host, std::uint16_t* port) {
  std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) {
    return InvalidArgument("listen address '" + addr + "' is not HOST:PORT");
  }
  std::string h = addr.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return InvalidArgument("listen address '" + addr + "' has no host");
  std::uint32_t p = 0;
  for (char c : addr.substr(colon + 1)) {
    if (c < '0' || c > '9') return InvalidArgument("listen port in '" + addr + "' is invalid");
    p = p * 10 + static_cast<std::uint32_t>(c - '0');
    if (p > 65535) return InvalidArgument("listen port in '" + addr + "' is above 65535");
  }
  *host = h;
  *port = static_cast<std::uint16_t>(p);
  return Status::Ok();
}

Status ValidateConfig(const ServerConfig& c) {
  std::string host;
  std::uint16_t port = 0;
  TESSERA_RETURN_IF_ERROR(SplitHostPort(c.listen, &host, &port));
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return InvalidArgument("'tls_cert_file' and 'tls_key_file' must be set together");
  }
  if (c.max_connections == 0) return InvalidArgument("'max_connections' must be at least 1");
  if (c.max_in_flight == 0) return InvalidArgument("'max_in_flight' must be at least 1");
  if (c.max_frame_bytes < 1024 || c.max_frame_bytes > protocol::kLargestMaxFrameBytes) {
    return InvalidArgument("'max_frame_bytes' must lie in [1024, " +
                           std::to_string(protocol::kLargestMaxFrameBytes) + "]");
  }
  if (c.read_timeout_ms == 0) return InvalidArgument("'read_timeout_ms' must be at least 1");
  if (c.idle_timeout_ms == 0) return InvalidArgument("'idle_timeout_ms' must be at least 1");
  if (c.write_queue_bytes < c.max_frame_bytes) {
    return InvalidArgument("'write_queue_bytes' must be at least 'max_frame_bytes'");
  }
  if (c.io_threads == 0 || c.io_threads > 64) {
    return InvalidArgument("'io_threads' must lie in [1, 64]");
  }
  if (c.database.empty()) return InvalidArgument("'database' must name a file");
  if (c.store_resync_ms == 0) return InvalidArgument("'store_resync_ms' must be at least 1");
  LogLevel level;
  if (!ParseLogLevel(c.log_level, &level)) {
    return InvalidArgument("'log_level' must be debug, info, warn or error");
  }
  return Status::Ok();
}

}  // namespace tessera::server
