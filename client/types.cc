// Names, address parsing and the small value helpers of the public API.
#include <cctype>
#include <charconv>

#include "tessera/client.h"

namespace tessera::client {

std::string_view DenialReasonName(DenialReason reason) {
  switch (reason) {
    case DenialReason::kNoSuchFeature:
      return "no_such_feature";
    case DenialReason::kNoSeats:
      return "no_seats";
    case DenialReason::kVersionOutOfRange:
      return "version_out_of_range";
    case DenialReason::kNotStarted:
      return "not_started";
    case DenialReason::kExpired:
      return "expired";
    case DenialReason::kDeniedByRule:
      return "denied_by_rule";
    case DenialReason::kOverUserMaximum:
      return "over_user_maximum";
    case DenialReason::kOverGroupMaximum:
      return "over_group_maximum";
    case DenialReason::kQueueTimeout:
      return "queue_timeout";
    case DenialReason::kMeteredExhausted:
      return "metered_exhausted";
    case DenialReason::kBorrowNotAllowed:
      return "borrow_not_allowed";
    case DenialReason::kInvalidRequest:
      return "invalid_request";
    case DenialReason::kServerDraining:
      return "server_draining";
    case DenialReason::kUnavailable:
      return "unavailable";
    case DenialReason::kQueueCancelled:
      return "queue_cancelled";
    case DenialReason::kLeaseNotResumable:
      return "lease_not_resumable";
    case DenialReason::kUnspecified:
      break;
  }
  return "unspecified";
}

std::string_view LossReasonName(LossReason reason) {
  switch (reason) {
    case LossReason::kUnknown:
      return "unknown";
    case LossReason::kExpired:
      return "expired";
    case LossReason::kRevoked:
      return "revoked";
    case LossReason::kReleased:
      return "released";
    case LossReason::kUnspecified:
      break;
  }
  return "unspecified";
}

std::string_view LeaseEventKindName(LeaseEvent::Kind kind) {
  switch (kind) {
    case LeaseEvent::Kind::kRevoked:
      return "revoked";
    case LeaseEvent::Kind::kLost:
      return "lost";
    case LeaseEvent::Kind::kResumed:
      return "resumed";
  }
  return "unknown";
}

std::string ServerAddress::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ServerAddress> ParseServerAddress(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  ServerAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("server address " + quoted + " is not [v6addr]:port");
    }
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgument("server address " + quoted + " is not host:port");
    }
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) return InvalidArgument("server address " + quoted + " has no host");
  for (char c : address.host) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      return InvalidArgument("server address " + quoted + " has a space in its host");
    }
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return InvalidArgument("server address " + quoted + " has no valid port (1-65535)");
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

Result<std::vector<std::string>> ParseServerList(std::string_view text) {
  std::vector<std::string> servers;
  size_t i = 0;
  while (i < text.size()) {
    const auto is_sep = [](char c) {
      return c == ',' || std::isspace(static_cast<unsigned char>(c)) != 0;
    };
    while (i < text.size() && is_sep(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !is_sep(text[j])) ++j;
    if (j > i) {
      TESSERA_ASSIGN_OR_RETURN(ServerAddress address, ParseServerAddress(text.substr(i, j - i)));
      servers.push_back(address.ToString());
    }
    i = j;
  }
  if (servers.empty()) return InvalidArgument("the server list is empty");
  return servers;
}

}  // namespace tessera::client
