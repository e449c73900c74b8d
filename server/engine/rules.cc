#include "server/engine/rules.h"

#include <algorithm>

namespace tessera::engine {

namespace {

bool InList(const std::map<std::string, std::vector<std::string>>& groups, const std::string& group,
            const std::string& member) {
  auto it = groups.find(group);
  if (it == groups.end()) return false;
  return std::find(it->second.begin(), it->second.end(), member) != it->second.end();
}

Status ValidateMatcher(const Rules& rules, const Matcher& who, std::string_view where) {
  if (who.name.empty()) return InvalidArgument(std::string(where) + ": empty name");
  if (who.kind == MatchKind::kGroup && !rules.user_groups.contains(who.name)) {
    return InvalidArgument(std::string(where) + ": unknown group '" + who.name + "'");
  }
  if (who.kind == MatchKind::kHostGroup && !rules.host_groups.contains(who.name)) {
    return InvalidArgument(std::string(where) + ": unknown host group '" + who.name + "'");
  }
  return Status::Ok();
}

}  // namespace

bool Rules::Matches(const Matcher& who, const ClientInfo& client) const {
  switch (who.kind) {
    case MatchKind::kUser:
      return who.name == "*" || who.name == client.user;
    case MatchKind::kGroup:
      return InList(user_groups, who.name, client.user);
    case MatchKind::kHost:
      return who.name == client.host;
    case MatchKind::kHostGroup:
      return InList(host_groups, who.name, client.host);
  }
  return false;
}

Status ValidateRules(const Rules& rules) {
  for (const auto& [name, users] : rules.user_groups) {
    if (name.empty()) return InvalidArgument("group with an empty name");
  }
  for (const auto& [name, hosts] : rules.host_groups) {
    if (name.empty()) return InvalidArgument("host group with an empty name");
  }
  for (const Reservation& r : rules.reservations) {
    if (r.feature.empty()) return InvalidArgument("reservation without a feature");
    if (r.who.kind == MatchKind::kUser && r.who.name == "*") {
      return InvalidArgument("reservation for '*'");
    }
    TESSERA_RETURN_IF_ERROR(ValidateMatcher(rules, r.who, "reservation"));
  }
  for (const MaxRule& m : rules.maxima) {
    if (m.feature.empty()) return InvalidArgument("maximum without a feature");
    TESSERA_RETURN_IF_ERROR(ValidateMatcher(rules, m.who, "maximum"));
  }
  for (const AccessRule& a : rules.allow) {
    TESSERA_RETURN_IF_ERROR(ValidateMatcher(rules, a.who, "allow rule"));
  }
  for (const AccessRule& d : rules.deny) {
    TESSERA_RETURN_IF_ERROR(ValidateMatcher(rules, d.who, "deny rule"));
  }
  return Status::Ok();
}

}  // namespace tessera::engine
