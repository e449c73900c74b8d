// Customer-side admin rules, like a FlexNet options file (DESIGN.md §3): groups, seat
// reservations, maxima, allow and deny lists. Kept on the appliance, replaced as a whole.
//
// Check order for a checkout (docs/ENGINE.md): deny list, allow list, per-user maximum,
// per-group maximum, then reservations together with capacity.
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/engine/lease.h"

namespace tessera::engine {

enum class MatchKind {
  kUser,       // name is a user name
  kGroup,      // name is a key of Rules::user_groups
  kHost,       // name is a host name
  kHostGroup,  // name is a key of Rules::host_groups
};

// Whom a rule applies to.
struct Matcher {
  MatchKind kind = MatchKind::kUser;
  std::string name;

  friend bool operator==(const Matcher&, const Matcher&) = default;
};

// RESERVE: `seats` seats of `feature` usable only by clients matching `who`.
struct Reservation {
  std::string feature;
  uint32_t seats = 0;
  Matcher who;
};

// MAX: clients matching `who` together hold at most `max` seats of `feature`.
// kUser with name "*" limits every user individually. A kUser rule denies with
// OVER_USER_MAXIMUM, the other kinds with OVER_GROUP_MAXIMUM.
struct MaxRule {
  std::string feature;
  uint32_t max = 0;
  Matcher who;
};

// INCLUDE / EXCLUDE. An empty feature applies to every feature.
struct AccessRule {
  std::string feature;
  Matcher who;
};

struct Rules {
  std::map<std::string, std::vector<std::string>> user_groups;  // group -> users
  std::map<std::string, std::vector<std::string>> host_groups;  // host group -> hosts
  std::vector<Reservation> reservations;
  std::vector<MaxRule> maxima;
  // When any allow rule applies to a feature, only clients matching one of them may use it.
  std::vector<AccessRule> allow;
  std::vector<AccessRule> deny;  // a matching client is refused (checked first)

  // True when `client` is matched by `who` under these rules' groups.
  bool Matches(const Matcher& who, const ClientInfo& client) const;
};

// Checks that referenced groups exist and names are non-empty. InvalidArgument otherwise.
Status ValidateRules(const Rules& rules);

}  // namespace tessera::engine
