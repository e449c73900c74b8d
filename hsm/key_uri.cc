#include "hsm/key_uri.h"

#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

Status BadUri(std::string_view what) { return MakeHsmError(HsmError::kBadUri, what); }

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (!s.empty()) {
    size_t pos = s.find(sep);
    std::string_view part = s.substr(0, pos);
    if (!part.empty()) parts.push_back(part);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return parts;
}

struct Attribute {
  std::string_view name;
  std::string value;
};

// "a=b;c=d" -> attributes, values percent-decoded.
Result<std::vector<Attribute>> ParseAttributes(std::string_view s, char sep) {
  std::vector<Attribute> out;
  for (std::string_view part : Split(s, sep)) {
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return BadUri("expected name=value, got '" + std::string(part) + "'");
    }
    TESSERA_ASSIGN_OR_RETURN(std::string value, PercentDecode(part.substr(eq + 1)));
    out.push_back({part.substr(0, eq), std::move(value)});
  }
  return out;
}

Result<uint32_t> ParseHandle(std::string_view name, const std::string& value) {
  char* end = nullptr;
  unsigned long v = std::strtoul(value.c_str(), &end, 0);
  if (value.empty() || end == nullptr || *end != '\0' || v > 0xFFFFFFFFul) {
    return BadUri(std::string(name) + " is not a 32-bit number: '" + value + "'");
  }
  return static_cast<uint32_t>(v);
}

Result<std::vector<uint32_t>> ParsePcrList(const std::string& value) {
  std::vector<uint32_t> pcrs;
  for (std::string_view item : Split(value, ',')) {
    TESSERA_ASSIGN_OR_RETURN(uint32_t pcr, ParseHandle("pcr", std::string(item)));
    if (pcr > 23) return BadUri("PCR index out of range 0..23: " + std::string(item));
    pcrs.push_back(pcr);
  }
  if (pcrs.empty()) return BadUri("pcrs= needs at least one PCR index");
  return pcrs;
}

Result<KeyUri> ParseTpm(std::string_view rest) {
  TpmUri uri;
  TESSERA_ASSIGN_OR_RETURN(auto attrs, ParseAttributes(rest, ';'));
  for (auto& a : attrs) {
    if (a.name == "tcti") {
      uri.tcti = std::move(a.value);
    } else if (a.name == "handle") {
      TESSERA_ASSIGN_OR_RETURN(uri.key_handle, ParseHandle(a.name, a.value));
      if ((uri.key_handle >> 24) != 0x81) return BadUri("handle must be persistent (0x81......)");
    } else if (a.name == "counter") {
      TESSERA_ASSIGN_OR_RETURN(uri.counter_index, ParseHandle(a.name, a.value));
      if ((uri.counter_index >> 24) != 0x01)
        return BadUri("counter must be an NV index (0x01......)");
    } else if (a.name == "pcrs") {
      TESSERA_ASSIGN_OR_RETURN(uri.pcrs, ParsePcrList(a.value));
    } else {
      return BadUri("unknown tpm attribute '" + std::string(a.name) + "'");
    }
  }
  if (uri.tcti.empty()) return BadUri("empty tcti");
  return KeyUri(std::move(uri));
}

Result<PinSource> ParsePinSource(const std::string& v) {
  PinSource pin;
  if (v.starts_with("env:")) {
    pin.kind = PinSource::Kind::kEnv;
    pin.where = v.substr(4);
  } else {
    pin.kind = PinSource::Kind::kFile;
    pin.where = v.starts_with("file:") ? v.substr(5) : v;
    // file:///path and file:/path both name /path.
    if (pin.where.starts_with("//")) pin.where = pin.where.substr(2);
  }
  if (pin.where.empty()) return BadUri("empty pin-source");
  return pin;
}

Status ApplyPkcs11Path(std::vector<Attribute>& attrs, Pkcs11Uri& uri) {
  for (auto& a : attrs) {
    if (a.name == "token") {
      uri.token = std::move(a.value);
    } else if (a.name == "object") {
      uri.object = std::move(a.value);
    } else if (a.name == "id") {
      uri.id.assign(a.value.begin(), a.value.end());
    } else if (a.name == "type") {
      if (a.value != "private") return BadUri("only type=private names an identity key");
    } else if (a.name == "pin-value") {
      return BadUri("a PIN inside the URI is refused; use pin-source=file:... or env:...");
    } else if (a.name == "module-path" || a.name == "pin-source") {
      return BadUri(std::string(a.name) + " belongs in the query part (after '?')");
    } else if (a.name != "manufacturer" && a.name != "model" && a.name != "serial") {
      return BadUri("unknown pkcs11 path attribute '" + std::string(a.name) + "'");
    }
  }
  return Status::Ok();
}

Status ApplyPkcs11Query(std::vector<Attribute>& attrs, Pkcs11Uri& uri) {
  for (auto& a : attrs) {
    if (a.name == "module-path") {
      uri.module_path = std::move(a.value);
    } else if (a.name == "pin-source") {
      TESSERA_ASSIGN_OR_RETURN(uri.pin, ParsePinSource(a.value));
    } else if (a.name == "pin-value") {
      return BadUri("a PIN inside the URI is refused; use pin-source=file:... or env:...");
    } else {
      return BadUri("unknown pkcs11 query attribute '" + std::string(a.name) + "'");
    }
  }
  return Status::Ok();
}

Result<KeyUri> ParsePkcs11(std::string_view rest) {
  Pkcs11Uri uri;
  size_t q = rest.find('?');
  TESSERA_ASSIGN_OR_RETURN(auto path, ParseAttributes(rest.substr(0, q), ';'));
  TESSERA_RETURN_IF_ERROR(ApplyPkcs11Path(path, uri));
  if (q != std::string_view::npos) {
    TESSERA_ASSIGN_OR_RETURN(auto query, ParseAttributes(rest.substr(q + 1), '&'));
    TESSERA_RETURN_IF_ERROR(ApplyPkcs11Query(query, uri));
  }
  if (uri.token.empty()) return BadUri("pkcs11 URI needs token=<label>");
  if (uri.object.empty()) return BadUri("pkcs11 URI has an empty object label");
  if (uri.module_path.empty()) return BadUri("pkcs11 URI needs ?module-path=<module .so>");
  return KeyUri(std::move(uri));
}

Result<uint32_t> ParseSignDelay(const std::string& value) {
  const std::string refused = "soft sign-delay-ms must be a whole number of ms in 0.." +
                              std::to_string(kMaxSoftSignDelayMs) + ", got '" + value + "'";
  // At most 5 digits before converting: no overflow, no sign, no spaces, no hex.
  if (value.empty() || value.size() > 5) return BadUri(refused);
  uint32_t ms = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return BadUri(refused);
    ms = ms * 10 + static_cast<uint32_t>(c - '0');
  }
  if (ms > kMaxSoftSignDelayMs) return BadUri(refused);
  return ms;
}

Status ApplySoftQuery(std::string_view query, SoftUri& uri) {
  // Split() skips empty parts; an empty option is refused here instead.
  if (query.empty() || query.front() == '&' || query.back() == '&' ||
      query.find("&&") != std::string_view::npos) {
    return BadUri("soft URI has an empty option after '?' or '&'");
  }
  TESSERA_ASSIGN_OR_RETURN(auto attrs, ParseAttributes(query, '&'));
  bool seen_delay = false;
  for (const Attribute& a : attrs) {
    if (a.name != "sign-delay-ms") {
      return BadUri("unknown soft URI option '" + std::string(a.name) + "' (known: sign-delay-ms)");
    }
    if (seen_delay) return BadUri("soft sign-delay-ms given twice");
    seen_delay = true;
    TESSERA_ASSIGN_OR_RETURN(uri.sign_delay_ms, ParseSignDelay(a.value));
  }
  return Status::Ok();
}

Result<KeyUri> ParseSoft(std::string_view rest) {
  if (rest.starts_with("path=")) rest.remove_prefix(5);
  SoftUri uri;
  const size_t q = rest.find('?');
  TESSERA_ASSIGN_OR_RETURN(uri.path, PercentDecode(rest.substr(0, q)));
  if (uri.path.empty()) return BadUri("soft URI needs a PEM file path");
  if (q != std::string_view::npos) TESSERA_RETURN_IF_ERROR(ApplySoftQuery(rest.substr(q + 1), uri));
  return KeyUri(std::move(uri));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return BadUri("truncated % escape");
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return BadUri("bad % escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<KeyUri> ParseKeyUri(std::string_view uri) {
  if (uri.starts_with("tpm:")) return ParseTpm(uri.substr(4));
  if (uri.starts_with("pkcs11:")) return ParsePkcs11(uri.substr(7));
  if (uri.starts_with("soft:")) return ParseSoft(uri.substr(5));
  return BadUri("unknown scheme in '" + std::string(uri) + "' (expected tpm:, pkcs11: or soft:)");
}

Result<std::string> ReadPin(const PinSource& source) {
  std::string pin;
  if (source.kind == PinSource::Kind::kEnv) {
    const char* v = std::getenv(source.where.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr) {
      return MakeHsmError(HsmError::kWrongPin,
                          "PIN environment variable " + source.where + " is not set");
    }
    pin = v;
  } else {
    std::ifstream in(source.where);
    if (!in) return MakeHsmError(HsmError::kWrongPin, "cannot read PIN file " + source.where);
    std::getline(in, pin);
  }
  while (!pin.empty() && (pin.back() == '\r' || pin.back() == '\n')) pin.pop_back();
  if (pin.empty()) return MakeHsmError(HsmError::kWrongPin, "empty PIN from " + source.where);
  return pin;
}

}  // namespace tessera::hsm
