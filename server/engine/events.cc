#include "server/engine/events.h"

namespace tessera::engine {

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
    case DenialReason::kQueueCancelled:
      return "queue_cancelled";
    case DenialReason::kLeaseNotResumable:
      return "lease_not_resumable";
  }
  return "unknown";
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
  }
  return "unknown";
}

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kGranted:
      return "granted";
    case EventKind::kRenewed:
      return "renewed";
    case EventKind::kReleased:
      return "released";
    case EventKind::kLingerEnded:
      return "linger_ended";
    case EventKind::kReclaimed:
      return "reclaimed";
    case EventKind::kExpired:
      return "expired";
    case EventKind::kDenied:
      return "denied";
    case EventKind::kQueued:
      return "queued";
    case EventKind::kDequeued:
      return "dequeued";
    case EventKind::kQueueTimeout:
      return "queue_timeout";
    case EventKind::kQueueCancelled:
      return "queue_cancelled";
    case EventKind::kRevoked:
      return "revoked";
    case EventKind::kOverdraftUsed:
      return "overdraft_used";
    case EventKind::kMeteredConsumed:
      return "metered_consumed";
  }
  return "unknown";
}

std::string FormatEvent(const Event& e) {
  std::string out = FormatTime(e.at) + " " + std::string(EventKindName(e.kind));
  if (e.lease_id != 0) out += " lease=" + std::to_string(e.lease_id);
  if (e.ticket != 0) out += " ticket=" + std::to_string(e.ticket);
  out += " feature=" + e.feature;
  out += " client=" + e.client.client_id + " user=" + e.client.user + " host=" + e.client.host;
  out += " count=" + std::to_string(e.count);
  if (e.reason) out += " reason=" + std::string(DenialReasonName(*e.reason));
  if (e.kind == EventKind::kQueued) out += " position=" + std::to_string(e.position);
  if (e.kind == EventKind::kMeteredConsumed) {
    out +=
        " units=" + std::to_string(e.units) + " remaining=" + std::to_string(e.metered_remaining);
  }
  if (e.lease) {
    out += " expires=" + FormatTime(e.lease->expires_at);
    if (e.lease->overdraft) out += " overdraft";
    if (e.lease->borrowed) out += " borrowed";
    if (e.lease->in_grace) out += " in_grace";
    if (e.lease->lingering) out += " lingering";
  }
  if (!e.detail.empty()) out += " detail=\"" + e.detail + "\"";
  return out;
}

}  // namespace tessera::engine
