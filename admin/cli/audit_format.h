// How `tessera audit show` prints an event: one line of text or one JSON object per event
// (docs/ADMIN.md "audit show").
//
// Every string of an event comes from a client (user, host, feature) or the appliance and is
// printed escaped: control characters never reach the terminal, and JSON output is always
// valid JSON.
//
// Thread safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/audit/envelope.h"

namespace tessera::cli {

namespace v1 = ::tessera::v1;

// Where an event sits: its block's sequence (as the header claims it) and its leaf index.
struct EventPlace {
  uint64_t block = 0;
  uint64_t index = 0;
};

// "LEASE_GRANTED", "LEASE_RELEASED" (the schema's AUDIT_LEASE_RELEASED: engine kinds are shown
// without the prefix that avoids a clash with tessera.proto), or "KIND_<n>" for a kind this
// build does not know.
std::string KindName(int kind);

// "NO_SEATS", or the number for an unknown reason.
std::string DenialReasonName(int reason);

// A value for `key=value` text: as is when it is plain printable text without spaces,
// quotes, backslashes or '='; otherwise double-quoted with \", \\, \n, \t, \xHH escapes
// (ASCII and C1 control characters are always escaped). Empty: "".
std::string QuoteValue(std::string_view value);

// One line (no newline): time (UTC), block, kind, then key=value pairs for feature, user,
// host, lease, count and, where present, reason, detail, actor, until (lease expiry), units.
std::string FormatEventText(const v1::AuditEvent& event, const EventPlace& place);

// One JSON object (no newline).
std::string FormatEventJson(const v1::AuditEvent& event, const EventPlace& place);

// For a leaf that does not parse as an AuditEvent.
std::string FormatUnreadableText(const EventPlace& place, size_t bytes);
std::string FormatUnreadableJson(const EventPlace& place, size_t bytes);

}  // namespace tessera::cli
