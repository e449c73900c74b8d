// The server's file formats (config, entitlement, rules) and lease id format, checked
// in-process: every error names the offending field.
#include <gtest/gtest.h>

#include "server/config.h"
#include "server/license_files.h"
#include "server/license_service.h"
#include "tests/support/temp_dir.h"

namespace tessera::server {
namespace {

TEST(ServerFilesTest, DemoFilesAreValid) {
  auto e =
      LoadEntitlementFile(std::string(TESSERA_SOURCE_ROOT) + "/examples/demo-entitlement.json");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->features.size(), 4u);
  ASSERT_EQ(e->pools.size(), 1u);
  EXPECT_EQ(e->pools[0].tokens, 40u);
  auto r = LoadRulesFile(std::string(TESSERA_SOURCE_ROOT) + "/examples/demo-rules.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->reservations.size(), 1u);
  EXPECT_EQ(r->user_groups.at("design").size(), 2u);
}

TEST(ServerFilesTest, EntitlementFieldsAreParsed) {
  auto e = ParseEntitlementJson(R"({"features": [{
      "name": "f", "model": "metered", "version_min": "1", "version_max": "2.5",
      "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00.250Z",
      "grace_ms": 1000, "seats": 3, "overdraft": 1, "enforcement": "soft",
      "lease_ttl_ms": 9000, "heartbeat_interval_ms": 3000, "linger_ms": 10,
      "max_queue_length": 4, "max_queue_timeout_ms": 5000, "borrowable": true,
      "max_borrow_ms": 86400000, "tokens_per_seat": 2, "named_user_min_period_ms": 60000,
      "meter_mode": "per_use", "metered_total": 100, "metered_overdraft": 5}]})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const engine::Feature& f = e->features[0];
  EXPECT_EQ(f.model, engine::LicenseModel::kMetered);
  EXPECT_EQ(f.version_max, "2.5");
  EXPECT_EQ(ToUnixMillis(*f.starts_at), 1'767'225'600'000);
  EXPECT_EQ(ToUnixMillis(*f.ends_at), 1'798'761'600'250);
  EXPECT_EQ(f.grace, Duration(1000));
  EXPECT_EQ(f.enforcement, engine::Enforcement::kSoft);
  EXPECT_EQ(f.lease_ttl, Duration(9000));
  EXPECT_TRUE(f.borrowable);
  EXPECT_EQ(f.meter_mode, engine::MeterMode::kPerUse);
  EXPECT_EQ(f.metered_total, 100u);
}

TEST(ServerFilesTest, EntitlementErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"features": [{"name": "a"}, {"name": "b", "seats": -1}]})", "features[1].seats"},
      {R"({"features": [{"name": "a", "model": "lifetime"}]})", "features[0].model"},
      {R"({"features": [{"name": "a", "ends_at": "tomorrow"}]})", "features[0].ends_at"},
      {R"({"features": [{"seats": 1}]})", "features[0].name"},
      {R"({"features": [{"name": "a", "borrowable": 1}]})", "features[0].borrowable"},
      {R"({"pools": [{"name": "p", "tokns": 1}]})", "pools[0].tokns"},
      {R"({"featurez": []})", "featurez"},
  };
  for (const auto& c : cases) {
    auto e = ParseEntitlementJson(c.json);
    ASSERT_FALSE(e.ok()) << c.json;
    EXPECT_NE(e.status().message().find(c.field), std::string::npos) << e.status().ToString();
  }
  EXPECT_FALSE(ParseEntitlementJson("{not json").ok());
}

TEST(ServerFilesTest, RulesErrorsNameTheField) {
  auto two = ParseRulesJson(R"({"deny": [{"user": "a", "group": "g"}]})");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("deny[0]"), std::string::npos);
  auto none = ParseRulesJson(R"({"maxima": [{"feature": "f", "max": 1}]})");
  EXPECT_NE(none.status().message().find("maxima[0]"), std::string::npos);
  auto no_max = ParseRulesJson(R"({"maxima": [{"feature": "f", "user": "*"}]})");
  EXPECT_NE(no_max.status().message().find("maxima[0].max"), std::string::npos);
  testing::TempDir dir("rules");
  auto path = dir.Write("rules.json", R"({"allow": [{"feature": "f", "group": "nobody"}]})");
  auto missing_group = LoadRulesFile(path.string());
  ASSERT_FALSE(missing_group.ok());
  EXPECT_NE(missing_group.status().message().find(path.string()), std::string::npos);
}

TEST(ServerFilesTest, ConfigKeysAndValidation) {
  auto c = ParseConfig(R"({"listen": "127.0.0.1:9", "max_connections": 7, "log_level": "debug"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, "127.0.0.1:9");
  EXPECT_EQ(c->max_connections, 7u);
  EXPECT_EQ(c->idle_timeout_ms, 300'000u);  // default kept
  EXPECT_TRUE(ValidateConfig(*c).ok());
  auto unknown = ParseConfig(R"({"max_conections": 7})");
  EXPECT_NE(unknown.status().message().find("max_conections"), std::string::npos);
  auto wrong = ParseConfig(R"({"max_in_flight": "lots"})");
  EXPECT_NE(wrong.status().message().find("max_in_flight"), std::string::npos);
  ServerConfig half_tls;
  half_tls.tls_cert_file = "cert.pem";
  EXPECT_FALSE(ValidateConfig(half_tls).ok());
  ServerConfig bad_listen;
  bad_listen.listen = "localhost";
  EXPECT_FALSE(ValidateConfig(bad_listen).ok());
  std::string host;
  std::uint16_t port = 0;
  ASSERT_TRUE(SplitHostPort("[::1]:7400", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 7400);
  EXPECT_FALSE(SplitHostPort("h:70000", &host, &port).ok());
}

TEST(ServerFilesTest, LeaseIdFormat) {
  EXPECT_EQ(FormatLeaseId(0x1926c3f8a1000), "0001926c3f8a1000");
  EXPECT_EQ(ParseLeaseId("0001926c3f8a1000"), engine::LeaseId{0x1926c3f8a1000});
  EXPECT_EQ(ParseLeaseId(FormatLeaseId(~engine::LeaseId{0})), ~engine::LeaseId{0});
  EXPECT_FALSE(ParseLeaseId("0000000000000000"));
  EXPECT_FALSE(ParseLeaseId("0001926C3F8A1000"));  // lowercase only
  EXPECT_FALSE(ParseLeaseId("1926c3f8a1000"));
  EXPECT_FALSE(ParseLeaseId("0001926c3f8a100g"));
  // Seeds from different start times never overlap for 4096 leases per millisecond.
  EXPECT_EQ(SeedLeaseId(FromUnixMillis(2)) - SeedLeaseId(FromUnixMillis(1)), 4096u);
}

}  // namespace
}  // namespace tessera::server
