#include "server/engine/entitlement.h"

#include <set>

#include "server/engine/version.h"

namespace tessera::engine {

std::string_view LicenseModelName(LicenseModel model) {
  switch (model) {
    case LicenseModel::kConcurrent:
      return "concurrent";
    case LicenseModel::kTokenPool:
      return "token_pool";
    case LicenseModel::kNamedUser:
      return "named_user";
    case LicenseModel::kMetered:
      return "metered";
  }
  return "unknown";
}

std::optional<LicenseModel> ParseLicenseModel(std::string_view name) {
  for (LicenseModel m : {LicenseModel::kConcurrent, LicenseModel::kTokenPool,
                         LicenseModel::kNamedUser, LicenseModel::kMetered}) {
    if (LicenseModelName(m) == name) return m;
  }
  return std::nullopt;
}

const Feature* Entitlement::FindFeature(std::string_view name) const {
  for (const Feature& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const TokenPool* Entitlement::FindPool(std::string_view name) const {
  for (const TokenPool& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

Status ValidateFeature(const Feature& f, const Entitlement& e) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument("feature '" + f.name + "': " + what);
  };
  if (!f.version_min.empty() && !Version::Parse(f.version_min)) return bad("bad version_min");
  if (!f.version_max.empty() && !Version::Parse(f.version_max)) return bad("bad version_max");
  if (!f.version_min.empty() && !f.version_max.empty() &&
      *Version::Parse(f.version_min) > *Version::Parse(f.version_max)) {
    return bad("version_min above version_max");
  }
  if (f.starts_at && f.ends_at && *f.starts_at > *f.ends_at) return bad("starts after it ends");
  if (f.grace.count() < 0 || f.linger.count() < 0 || f.max_borrow.count() < 0 ||
      f.max_queue_timeout.count() < 0 || f.named_user_min_period.count() < 0) {
    return bad("negative duration");
  }
  if (f.lease_ttl.count() <= 0) return bad("lease_ttl must be positive");
  if (f.heartbeat_interval.count() <= 0 || f.heartbeat_interval > f.lease_ttl) {
    return bad("heartbeat_interval must be in (0, lease_ttl]");
  }
  if (f.model == LicenseModel::kTokenPool) {
    if (e.FindPool(f.pool) == nullptr) return bad("unknown pool '" + f.pool + "'");
    if (f.tokens_per_seat == 0) return bad("tokens_per_seat must be positive");
  } else if (!f.pool.empty()) {
    return bad("pool set on a feature that is not a token pool feature");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateEntitlement(const Entitlement& entitlement) {
  std::set<std::string> pools;
  for (const TokenPool& p : entitlement.pools) {
    if (p.name.empty()) return InvalidArgument("token pool with an empty name");
    if (!pools.insert(p.name).second) return InvalidArgument("duplicate pool '" + p.name + "'");
  }
  std::set<std::string> names;
  for (const Feature& f : entitlement.features) {
    if (f.name.empty()) return InvalidArgument("feature with an empty name");
    if (!names.insert(f.name).second) {
      return InvalidArgument("duplicate feature '" + f.name + "'");
    }
    TESSERA_RETURN_IF_ERROR(ValidateFeature(f, entitlement));
  }
  return Status::Ok();
}

}  // namespace tessera::engine
