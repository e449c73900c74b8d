#include "admin/cli/audit_format.h"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "base/time.h"
#include "tessera/v1/tessera.pb.h"

namespace tessera::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string Time(int64_t ms) { return FormatTime(FromUnixMillis(ms)); }

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// U+0080..U+009F (C1 controls) are 0xC2 0x80..0x9F in UTF-8.
bool IsC1At(std::string_view s, size_t i) {
  return i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xC2 &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (IsControl(c) || c == ' ' || c == '"' || c == '\\' || c == '=' || IsC1At(s, i)) {
      return true;
    }
  }
  return false;
}

void AppendHex(std::string& out, unsigned char c) {
  char buf[5];
  std::snprintf(buf, sizeof(buf), "\\x%02x", c);
  out += buf;
}

void Pair(std::string& line, std::string_view key, std::string_view value) {
  line += ' ';
  line += key;
  line += '=';
  line += QuoteValue(value);
}

void PairIf(std::string& line, std::string_view key, std::string_view value) {
  if (!value.empty()) Pair(line, key, value);
}

bool IsLeaseKind(int kind) {
  return kind == v1::LEASE_GRANTED || kind == v1::LEASE_RENEWED || kind == v1::LEASE_RECLAIMED ||
         kind == v1::CHECKOUT_DEQUEUED;
}

Json LeaseJson(const v1::AuditLease& lease) {
  Json j;
  if (!lease.version().empty()) j["version"] = lease.version();
  j["count"] = lease.count();
  j["issued_at"] = Time(lease.issued_at_ms());
  j["expires_at"] = Time(lease.expires_at_ms());
  j["heartbeat_interval_ms"] = lease.heartbeat_interval_ms();
  if (lease.borrowed()) j["borrowed"] = true;
  if (lease.overdraft()) j["overdraft"] = true;
  if (lease.in_grace()) j["in_grace"] = true;
  if (lease.lingering()) j["lingering"] = true;
  if (lease.tokens() != 0) j["tokens"] = lease.tokens();
  if (lease.metered_units() != 0) j["metered_units"] = lease.metered_units();
  return j;
}

std::string Dump(const Json& j) {
  // Replaces invalid UTF-8 instead of throwing: output stays valid JSON.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string KindName(int kind) {
  if (!v1::AuditEventKind_IsValid(kind)) return "KIND_" + std::to_string(kind);
  std::string name = v1::AuditEventKind_Name(static_cast<v1::AuditEventKind>(kind));
  // Engine kinds (1-14) whose plain name clashes with a tessera.proto enum value carry an
  // AUDIT_ prefix in the schema; operators see the engine's name.
  constexpr std::string_view kPrefix = "AUDIT_";
  if (kind >= v1::LEASE_GRANTED && kind <= v1::METERED_CONSUMED && name.starts_with(kPrefix)) {
    name.erase(0, kPrefix.size());
  }
  return name;
}

std::string DenialReasonName(int reason) {
  if (v1::DenialReason_IsValid(reason)) {
    return v1::DenialReason_Name(static_cast<v1::DenialReason>(reason));
  }
  return std::to_string(reason);
}

std::string QuoteValue(std::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);
  std::string out = "\"";
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (IsControl(c)) {
      AppendHex(out, c);
    } else if (IsC1At(value, i)) {
      AppendHex(out, c);
      AppendHex(out, static_cast<unsigned char>(value[++i]));
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string FormatEventText(const v1::AuditEvent& e, const EventPlace& place) {
  std::string line = Time(e.at_ms());
  line += " block=" + std::to_string(place.block) + " " + KindName(e.kind());
  PairIf(line, "feature", e.feature());
  PairIf(line, "user", e.user());
  PairIf(line, "host", e.host());
  PairIf(line, "lease", e.lease_id());
  if (e.count() != 0) Pair(line, "count", std::to_string(e.count()));
  if (e.denial_reason() != 0) Pair(line, "reason", DenialReasonName(e.denial_reason()));
  PairIf(line, "detail", e.detail());
  PairIf(line, "actor", e.actor());
  if (IsLeaseKind(e.kind()) && e.has_lease()) Pair(line, "until", Time(e.lease().expires_at_ms()));
  if (e.kind() == v1::METERED_CONSUMED) {
    Pair(line, "units", std::to_string(e.units()));
    Pair(line, "remaining", std::to_string(e.metered_remaining()));
  }
  return line;
}

std::string FormatEventJson(const v1::AuditEvent& e, const EventPlace& place) {
  Json j;
  j["time"] = Time(e.at_ms());
  j["block"] = place.block;
  j["index"] = place.index;
  j["kind"] = KindName(e.kind());
  j["appliance_id"] = e.appliance_id();
  j["feature"] = e.feature();
  j["user"] = e.user();
  j["host"] = e.host();
  j["client_id"] = e.client_id();
  j["lease_id"] = e.lease_id();
  j["count"] = e.count();
  if (e.denial_reason() != 0) j["denial_reason"] = DenialReasonName(e.denial_reason());
  if (!e.detail().empty()) j["detail"] = e.detail();
  if (!e.actor().empty()) j["actor"] = e.actor();
  if (e.ticket() != 0) j["ticket"] = e.ticket();
  if (e.position() != 0) j["position"] = e.position();
  if (e.kind() == v1::METERED_CONSUMED) {
    j["units"] = e.units();
    j["metered_remaining"] = e.metered_remaining();
  }
  if (e.has_lease()) j["lease"] = LeaseJson(e.lease());
  return Dump(j);
}

std::string FormatUnreadableText(const EventPlace& place, size_t bytes) {
  return "block=" + std::to_string(place.block) + " index=" + std::to_string(place.index) +
         " UNREADABLE (" + std::to_string(bytes) + " bytes do not parse as an event)";
}

std::string FormatUnreadableJson(const EventPlace& place, size_t bytes) {
  Json j;
  j["block"] = place.block;
  j["index"] = place.index;
  j["error"] = "event does not parse";
  j["bytes"] = bytes;
  return Dump(j);
}

}  // namespace tessera::cli
