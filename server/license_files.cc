#include "server/license_files.h"

#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "server/config.h"

namespace tessera::server {
namespace {

using Json = nlohmann::json;

// Reads the fields of one JSON object, remembering which were used so leftovers can be
// reported as unknown.
class ObjectReader {
 public:
  ObjectReader(const Json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Status Begin() const {
    if (!obj_.is_object()) return InvalidArgument(Where("") + "must be a JSON object");
    return Status::Ok();
  }

  std::string Where(const std::string& key) const {
    std::string p = path_;
    if (!key.empty()) p += (p.empty() ? "" : ".") + key;
    return p.empty() ? "" : p + ": ";
  }

  const Json* Find(const std::string& key) {
    seen_.insert(key);
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status String(const std::string& key, std::string* out, bool required = false) {
    const Json* v = Find(key);
    if (!v) return required ? InvalidArgument(Where(key) + "is required") : Status::Ok();
    if (!v->is_string()) return InvalidArgument(Where(key) + "must be a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }

  template <typename T>
  Status Unsigned(const std::string& key, T* out) {
    const Json* v = Find(key);
    if (!v) return Status::Ok();
    if (!v->is_number_integer() ||
        (v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0)) {
      return InvalidArgument(Where(key) + "must be a non-negative integer");
    }
    auto u = v->get<std::uint64_t>();
    if (u > std::numeric_limits<T>::max()) return InvalidArgument(Where(key) + "is too large");
    *out = static_cast<T>(u);
    return Status::Ok();
  }

  Status Millis(const std::string& key, Duration* out) {
    std::uint64_t ms = static_cast<std::uint64_t>(out->count());
    TESSERA_RETURN_IF_ERROR(Unsigned(key, &ms));
    if (ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)) {
      return InvalidArgument(Where(key) + "is too large");
    }
    *out = Duration(static_cast<std::int64_t>(ms));
    return Status::Ok();
  }

  Status Bool(const std::string& key, bool* out) {
    const Json* v = Find(key);
    if (!v) return Status::Ok();
    if (!v->is_boolean()) return InvalidArgument(Where(key) + "must be true or false");
    *out = v->get<bool>();
    return Status::Ok();
  }

  Status Time(const std::string& key, std::optional<TimePoint>* out) {
    std::string text;
    TESSERA_RETURN_IF_ERROR(String(key, &text));
    if (text.empty()) return Status::Ok();
    auto t = ParseUtcTime(text);
    if (!t.ok()) return InvalidArgument(Where(key) + t.status().message());
    *out = *t;
    return Status::Ok();
  }

  Status StringList(const std::string& key, std::vector<std::string>* out) {
    const Json* v = Find(key);
    if (!v) return Status::Ok();
    if (!v->is_array()) return InvalidArgument(Where(key) + "must be an array of strings");
    for (const auto& e : *v) {
      if (!e.is_string()) return InvalidArgument(Where(key) + "must be an array of strings");
      out->push_back(e.get<std::string>());
    }
    return Status::Ok();
  }

  // Fails on any key not read.
  Status End() const {
    for (const auto& [key, value] : obj_.items()) {
      if (!seen_.contains(key)) return InvalidArgument(Where(key) + "unknown field");
    }
    return Status::Ok();
  }

 private:
  const Json& obj_;
  std::string path_;
  std::set<std::string> seen_;
};

Status ParseFeature(const Json& j, const std::string& path, engine::Feature* f) {
  ObjectReader r(j, path);
  TESSERA_RETURN_IF_ERROR(r.Begin());
  TESSERA_RETURN_IF_ERROR(r.String("name", &f->name, /*required=*/true));
  std::string model = "concurrent";
  TESSERA_RETURN_IF_ERROR(r.String("model", &model));
  auto m = engine::ParseLicenseModel(model);
  if (!m) {
    return InvalidArgument(r.Where("model") +
                           "must be concurrent, token_pool, named_user or metered");
  }
  f->model = *m;
  TESSERA_RETURN_IF_ERROR(r.String("version_min", &f->version_min));
  TESSERA_RETURN_IF_ERROR(r.String("version_max", &f->version_max));
  TESSERA_RETURN_IF_ERROR(r.Time("starts_at", &f->starts_at));
  TESSERA_RETURN_IF_ERROR(r.Time("ends_at", &f->ends_at));
  TESSERA_RETURN_IF_ERROR(r.Millis("grace_ms", &f->grace));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("seats", &f->seats));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("overdraft", &f->overdraft));
  std::string enforcement = "hard";
  TESSERA_RETURN_IF_ERROR(r.String("enforcement", &enforcement));
  if (enforcement == "hard") {
    f->enforcement = engine::Enforcement::kHard;
  } else if (enforcement == "soft") {
    f->enforcement = engine::Enforcement::kSoft;
  } else {
    return InvalidArgument(r.Where("enforcement") + "must be hard or soft");
  }
  TESSERA_RETURN_IF_ERROR(r.Millis("lease_ttl_ms", &f->lease_ttl));
  TESSERA_RETURN_IF_ERROR(r.Millis("heartbeat_interval_ms", &f->heartbeat_interval));
  TESSERA_RETURN_IF_ERROR(r.Millis("linger_ms", &f->linger));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("max_queue_length", &f->max_queue_length));
  TESSERA_RETURN_IF_ERROR(r.Millis("max_queue_timeout_ms", &f->max_queue_timeout));
  TESSERA_RETURN_IF_ERROR(r.Bool("borrowable", &f->borrowable));
  TESSERA_RETURN_IF_ERROR(r.Millis("max_borrow_ms", &f->max_borrow));
  TESSERA_RETURN_IF_ERROR(r.String("pool", &f->pool));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("tokens_per_seat", &f->tokens_per_seat));
  TESSERA_RETURN_IF_ERROR(r.Millis("named_user_min_period_ms", &f->named_user_min_period));
  std::string meter_mode = "per_checkout";
  TESSERA_RETURN_IF_ERROR(r.String("meter_mode", &meter_mode));
  if (meter_mode == "per_checkout") {
    f->meter_mode = engine::MeterMode::kPerCheckout;
  } else if (meter_mode == "per_use") {
    f->meter_mode = engine::MeterMode::kPerUse;
  } else {
    return InvalidArgument(r.Where("meter_mode") + "must be per_checkout or per_use");
  }
  TESSERA_RETURN_IF_ERROR(r.Unsigned("metered_total", &f->metered_total));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("metered_overdraft", &f->metered_overdraft));
  return r.End();
}

Status ParsePool(const Json& j, const std::string& path, engine::TokenPool* p) {
  ObjectReader r(j, path);
  TESSERA_RETURN_IF_ERROR(r.Begin());
  TESSERA_RETURN_IF_ERROR(r.String("name", &p->name, /*required=*/true));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("tokens", &p->tokens));
  TESSERA_RETURN_IF_ERROR(r.Unsigned("overdraft", &p->overdraft));
  return r.End();
}

// A matcher is one of "user", "group", "host", "host_group".
Status ParseMatcher(ObjectReader& r, engine::Matcher* m) {
  static const std::pair<const char*, engine::MatchKind> kKinds[] = {
      {"user", engine::MatchKind::kUser},
      {"group", engine::MatchKind::kGroup},
      {"host", engine::MatchKind::kHost},
      {"host_group", engine::MatchKind::kHostGroup}};
  int found = 0;
  for (const auto& [key, kind] : kKinds) {
    std::string name;
    TESSERA_RETURN_IF_ERROR(r.String(key, &name));
    if (r.Find(key)) {
      ++found;
      m->kind = kind;
      m->name = name;
    }
  }
  if (found != 1) {
    return InvalidArgument(r.Where("") + "needs exactly one of user, group, host, host_group");
  }
  return Status::Ok();
}

Status ParseGroups(const Json& doc, const std::string& key,
                   std::map<std::string, std::vector<std::string>>* out) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return InvalidArgument(key + ": must be an object of name -> [names]");
  for (const auto& [name, members] : it->items()) {
    if (!members.is_array()) return InvalidArgument(key + "." + name + ": must be an array");
    auto& list = (*out)[name];
    for (const auto& m : members) {
      if (!m.is_string()) return InvalidArgument(key + "." + name + ": must hold strings");
      list.push_back(m.get<std::string>());
    }
  }
  return Status::Ok();
}

template <typename T, typename Fn>
Status ParseArray(const Json& doc, const std::string& key, std::vector<T>* out, Fn parse_one) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return InvalidArgument(key + ": must be an array");
  for (std::size_t i = 0; i < it->size(); ++i) {
    T item;
    TESSERA_RETURN_IF_ERROR(parse_one((*it)[i], key + "[" + std::to_string(i) + "]", &item));
    out->push_back(std::move(item));
  }
  return Status::Ok();
}

Status CheckTopLevel(const Json& doc, std::initializer_list<const char*> keys) {
  for (const auto& [key, value] : doc.items()) {
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) return InvalidArgument(key + ": unknown field");
  }
  return Status::Ok();
}

int Digits(std::string_view s, std::size_t pos, std::size_t n, bool* ok) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

Result<TimePoint> ParseUtcTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  bool ok = s.size() == 20 || s.size() == 24;
  ok = ok && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
       s.back() == 'Z';
  if (ok && s.size() == 24) ok = s[19] == '.';
  int y = Digits(s, 0, 4, &ok), mo = Digits(s, 5, 2, &ok), d = Digits(s, 8, 2, &ok);
  int h = Digits(s, 11, 2, &ok), mi = Digits(s, 14, 2, &ok), sec = Digits(s, 17, 2, &ok);
  int ms = s.size() == 24 ? Digits(s, 20, 3, &ok) : 0;
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(unsigned(mo)),
                                  std::chrono::day(unsigned(d))};
  if (!ok || !ymd.ok() || h > 23 || mi > 59 || sec > 59) {
    return InvalidArgument("'" + std::string(s) + "' is not a UTC time like 2027-01-31T00:00:00Z");
  }
  auto days = std::chrono::sys_days(ymd);
  return TimePoint(std::chrono::duration_cast<Duration>(days.time_since_epoch()) +
                   std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec) +
                   Duration(ms));
}

Result<engine::Entitlement> ParseEntitlementJson(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("not valid JSON");
  if (!doc.is_object()) return InvalidArgument("must be a JSON object");
  TESSERA_RETURN_IF_ERROR(CheckTopLevel(doc, {"features", "pools"}));
  engine::Entitlement e;
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "features", &e.features, ParseFeature));
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "pools", &e.pools, ParsePool));
  return e;
}

Result<engine::Rules> ParseRulesJson(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("not valid JSON");
  if (!doc.is_object()) return InvalidArgument("must be a JSON object");
  TESSERA_RETURN_IF_ERROR(CheckTopLevel(
      doc, {"user_groups", "host_groups", "reservations", "maxima", "allow", "deny"}));
  engine::Rules rules;
  TESSERA_RETURN_IF_ERROR(ParseGroups(doc, "user_groups", &rules.user_groups));
  TESSERA_RETURN_IF_ERROR(ParseGroups(doc, "host_groups", &rules.host_groups));
  auto reservation = [](const Json& j, const std::string& path,
                        engine::Reservation* out) -> Status {
    ObjectReader r(j, path);
    TESSERA_RETURN_IF_ERROR(r.Begin());
    TESSERA_RETURN_IF_ERROR(r.String("feature", &out->feature, /*required=*/true));
    if (!r.Find("seats")) return InvalidArgument(r.Where("seats") + "is required");
    TESSERA_RETURN_IF_ERROR(r.Unsigned("seats", &out->seats));
    TESSERA_RETURN_IF_ERROR(ParseMatcher(r, &out->who));
    return r.End();
  };
  auto maximum = [](const Json& j, const std::string& path, engine::MaxRule* out) -> Status {
    ObjectReader r(j, path);
    TESSERA_RETURN_IF_ERROR(r.Begin());
    TESSERA_RETURN_IF_ERROR(r.String("feature", &out->feature, /*required=*/true));
    if (!r.Find("max")) return InvalidArgument(r.Where("max") + "is required");
    TESSERA_RETURN_IF_ERROR(r.Unsigned("max", &out->max));
    TESSERA_RETURN_IF_ERROR(ParseMatcher(r, &out->who));
    return r.End();
  };
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "reservations", &rules.reservations, reservation));
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "maxima", &rules.maxima, maximum));
  auto access = [](const Json& j, const std::string& path, engine::AccessRule* out) -> Status {
    ObjectReader r(j, path);
    TESSERA_RETURN_IF_ERROR(r.Begin());
    TESSERA_RETURN_IF_ERROR(r.String("feature", &out->feature));
    TESSERA_RETURN_IF_ERROR(ParseMatcher(r, &out->who));
    return r.End();
  };
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "allow", &rules.allow, access));
  TESSERA_RETURN_IF_ERROR(ParseArray(doc, "deny", &rules.deny, access));
  return rules;
}

Result<engine::Entitlement> LoadEntitlementFile(const std::string& path) {
  if (path.empty()) return engine::Entitlement{};
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto e = ParseEntitlementJson(text);
  if (!e.ok()) return e.status().Annotate("entitlement file " + path);
  Status v = engine::ValidateEntitlement(*e);
  if (!v.ok()) return v.Annotate("entitlement file " + path);
  return e;
}

Result<engine::Rules> LoadRulesFile(const std::string& path) {
  if (path.empty()) return engine::Rules{};
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto r = ParseRulesJson(text);
  if (!r.ok()) return r.status().Annotate("rules file " + path);
  Status v = engine::ValidateRules(*r);
  if (!v.ok()) return v.Annotate("rules file " + path);
  return r;
}

}  // namespace tessera::server
