// The local entitlement file and the admin rules file (JSON; docs/SERVER.md documents every
// field). Until signed bundles exist the entitlement comes from this file.
//
// Errors are InvalidArgument naming the offending field by path ("features[1].seats: must be
// a non-negative integer"). Unknown fields are errors, so a typo never goes unnoticed.
// Thread safety: free functions over values.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "server/engine/entitlement.h"
#include "server/engine/rules.h"

namespace tessera::server {

Result<engine::Entitlement> ParseEntitlementJson(const std::string& text);
Result<engine::Rules> ParseRulesJson(const std::string& text);

// Read, parse and validate (engine::ValidateEntitlement / ValidateRules). An empty path gives
// an empty entitlement / empty rules. Errors name the file.
Result<engine::Entitlement> LoadEntitlementFile(const std::string& path);
Result<engine::Rules> LoadRulesFile(const std::string& path);

// Parses "2026-12-03T16:44:40Z" or "2026-12-03T16:44:40.123Z" (UTC only).
Result<TimePoint> ParseUtcTime(std::string_view text);

}  // namespace tessera::server
