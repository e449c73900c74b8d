// Rollback and clock protection in a real tesserad (docs/TRUST.md): a database replaced by
// an older copy is detected against the key store's monotonic counter and refuses seats
// until an admin accepts it; a system clock set back a week (libfaketime) neither extends an
// entitlement nor a lease, and the jump is an audit event. Run against the soft: key store,
// a real swtpm and a real SoftHSM2 token.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "base/system_clock.h"
#include "hsm/crypto.h"
#include "protocol/audit/chain.h"
#include "server/daemon.h"
#include "server/license_files.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/integration/server/signed_appliance.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;
using std::chrono::hours;
using std::chrono::milliseconds;

constexpr const char* kFaketimeLib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
constexpr int64_t kTtlMs = 60'000;

// "YYYY-MM-DDTHH:MM:SSZ" for the entitlement file.
std::string UtcText(TimePoint t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch());
  const auto day = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{std::chrono::sys_days(day)};
  const std::chrono::hh_mm_ss hms{secs - day};
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(hms.hours().count()),
                long(hms.minutes().count()), long(hms.seconds().count()));
  return buf;
}

// "cad" without an end; "old" whose entitlement ended a day ago (no grace).
std::string Entitlement() {
  return std::string(R"({"features": [
    {"name": "cad", "version_min": "1.0", "version_max": "3.0", "seats": 5,
     "lease_ttl_ms": 60000, "heartbeat_interval_ms": 20000},
    {"name": "old", "version_min": "1.0", "version_max": "3.0", "seats": 5,
     "ends_at": ")") +
         UtcText(RealClock().Now() - hours(24)) + R"("}
  ]})";
}

class RollbackTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "d");
    Status ready = appliance_.Init();
    ASSERT_TRUE(ready.ok()) << ready.ToString();
    server_ = std::make_unique<TesseradProcess>(dir_.path() / "d", Options(""));
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString() << server_->Log();
  }

  TesseradOptions Options(const std::string& binary) {
    TesseradOptions options;
    options.entitlement_json = Entitlement();
    options.keep_database = true;
    options.extra_args = appliance_.TesseradArgs();
    options.binary = binary;
    return options;
  }

  std::filesystem::path Db() const { return dir_.path() / "d" / "tesserad.db"; }

  // Stops tesserad (orderly) and expects exit 0.
  void StopServer() {
    auto stopped = server_->Stop();
    ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
    ASSERT_EQ(*stopped, 0) << server_->Log();
  }

  v1::CheckoutReply Checkout(const std::string& feature, const std::string& nonce = "n") {
    auto c = HelloClient(server_->port(), "rollback-client");
    if (c == nullptr) return {};
    v1::CheckoutRequest req;
    req.set_feature(feature);
    req.set_version("2.0");
    req.set_nonce(nonce);
    auto reply = c->Checkout(req);
    EXPECT_TRUE(reply.ok() && reply->has_checkout_reply());
    return reply.ok() ? reply->checkout_reply() : v1::CheckoutReply{};
  }

  v1::StatusReply StatusNow() {
    auto c = HelloClient(server_->port(), "status-client");
    if (c == nullptr) return {};
    auto reply = c->StatusQuery();
    EXPECT_TRUE(reply.ok() && reply->has_status_reply());
    return reply.ok() ? reply->status_reply() : v1::StatusReply{};
  }

  // tesserad accept-rollback on the test's database, with the test's identity.
  hsm::testing::CommandResult AcceptRollback(const std::string& actor) {
    std::vector<std::string> argv = {TesseradBinary(), "--db", Db().string()};
    for (const std::string& a : appliance_.TesseradArgs()) argv.push_back(a);
    argv.insert(argv.end(), {"accept-rollback", "--actor", actor});
    return hsm::testing::RunCommand(argv);
  }

  // A script that runs tesserad with the system clock `offset` away (libfaketime; the
  // monotonic clock stays real, as it does when an admin sets the date).
  std::string FaketimeWrapper(const std::string& offset) {
    EXPECT_TRUE(std::filesystem::exists(kFaketimeLib))
        << kFaketimeLib << " is missing: scripts/install-deps.sh installs Debian's faketime";
    const auto path = dir_.path() / "tesserad-faketime.sh";
    std::ofstream out(path);
    out << "#!/bin/sh\n"
        << "export FAKETIME='" << offset << "' FAKETIME_DONT_FAKE_MONOTONIC=1\n"
        << "export LD_PRELOAD='" << kFaketimeLib
        << "'\n"
        // libfaketime comes before the sanitizer runtime in sanitizer builds.
        << "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\"\n"
        << "exec '" << TesseradBinary() << "' \"$@\"\n";
    out.close();
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path.string();
  }

  TempDir dir_{"rollback"};
  SignedAppliance appliance_{dir_.path(), GetParam()};
  std::unique_ptr<TesseradProcess> server_;
};

TEST_P(RollbackTest, AnOlderCopyOfTheDatabaseIsRefusedUntilAnAdminAcceptsIt) {
  ASSERT_TRUE(Checkout("cad", "first-run").has_granted());
  StopServer();
  // A backup taken now; the appliance then runs on.
  const auto backup = dir_.path() / "backup.db";
  std::filesystem::copy_file(Db(), backup);
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  ASSERT_TRUE(Checkout("cad", "second-run").has_granted());
  StopServer();

  // The backup comes back (a restore, a VM snapshot).
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(Db().string() + suffix);
  std::filesystem::copy_file(backup, Db(), std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(server_->WaitForLog("event=rollback_detected", milliseconds(5000))) << server_->Log();
  const v1::CheckoutReply refused = Checkout("cad", "after-restore");
  ASSERT_TRUE(refused.has_denied());
  EXPECT_EQ(refused.denied().reason(), v1::UNAVAILABLE);
  EXPECT_NE(refused.denied().detail().find("older"), std::string::npos)
      << refused.denied().detail();
  const v1::StatusReply locked = StatusNow();
  EXPECT_NE(locked.locked_reason().find("older"), std::string::npos) << locked.locked_reason();
  StopServer();
  std::vector<v1::AuditBlock> blocks = StoredBlocks(Db());
  ASSERT_EQ(EventsOfKind(blocks, v1::ROLLBACK_DETECTED).size(), 1u);
  EXPECT_TRUE(audit::VerifyChain(blocks, appliance_.spki(), {}).ok());

  // Still refused at the next start: nothing was accepted.
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(Checkout("cad", "still-refused").has_denied());
  StopServer();

  // An accept-rollback by someone; then the appliance serves again, and the chain says who.
  hsm::testing::CommandResult accepted = AcceptRollback("admin@example.com");
  ASSERT_EQ(accepted.exit_code, 0) << accepted.out;
  EXPECT_NE(accepted.out.find("event=rollback_accepted"), std::string::npos) << accepted.out;
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(Checkout("cad", "accepted").has_granted());
  EXPECT_TRUE(StatusNow().locked_reason().empty());
  StopServer();
  blocks = StoredBlocks(Db());
  const auto accepts = EventsOfKind(blocks, v1::ROLLBACK_ACCEPTED);
  ASSERT_EQ(accepts.size(), 1u);
  EXPECT_EQ(accepts[0].actor(), "admin@example.com");
  audit::ChainVerdict verdict = audit::VerifyChain(blocks, appliance_.spki(), {});
  EXPECT_TRUE(verdict.ok()) << verdict.fault->status.ToString();
}

TEST_P(RollbackTest, ACopyTakenWhileTesseradRunsIsDetectedAfterItStops) {
  ASSERT_TRUE(Checkout("cad", "before-copy").has_granted());
  // An online backup while serving: it records the counter value of this run's start.
  const auto copy = dir_.path() / "online-copy.db";
  hsm::testing::CommandResult backup = hsm::testing::RunCommand(
      {TesseradBinary(), "backup", "--db", Db().string(), "--to", copy.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  // The orderly stop advances the counter past it.
  StopServer();
  EXPECT_NE(server_->Log().find("event=counter_advanced"), std::string::npos) << server_->Log();
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(Db().string() + suffix);
  std::filesystem::copy_file(copy, Db(), std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(server_->WaitForLog("event=rollback_detected", milliseconds(10000)))
      << server_->Log();
  const v1::CheckoutReply refused = Checkout("cad", "after-restore");
  ASSERT_TRUE(refused.has_denied());
  EXPECT_EQ(refused.denied().reason(), v1::UNAVAILABLE);
}

TEST_P(RollbackTest, AcceptRollbackRefusesADatabaseInUseAndABadActor) {
  // tesserad is running: the admin command must not write the chain under it.
  hsm::testing::CommandResult busy = AcceptRollback("admin");
  EXPECT_EQ(busy.exit_code, server::kExitStoreFailure) << busy.out;
  EXPECT_NE(busy.out.find("in use by another tesserad process"), std::string::npos) << busy.out;
  StopServer();
  hsm::testing::CommandResult bad = AcceptRollback("bad\nactor");
  EXPECT_EQ(bad.exit_code, server::kExitUsage) << bad.out;
  EXPECT_NE(bad.out.find("control character"), std::string::npos) << bad.out;
  // Nothing was written by either.
  EXPECT_TRUE(EventsOfKind(StoredBlocks(Db()), v1::ROLLBACK_ACCEPTED).empty());
}

TEST_P(RollbackTest, AcceptRollbackWithNothingToAcceptChangesNothing) {
  StopServer();
  hsm::testing::CommandResult accepted = AcceptRollback("admin");
  // Nothing to accept is not an error, and nothing is written; the next start serves.
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out;
  EXPECT_NE(accepted.out.find("event=no_rollback"), std::string::npos) << accepted.out;
  EXPECT_TRUE(EventsOfKind(StoredBlocks(Db()), v1::ROLLBACK_ACCEPTED).empty());
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(Checkout("cad").has_granted());
  EXPECT_FALSE(server_->Log().find("event=rollback_detected") != std::string::npos)
      << server_->Log();
}

TEST_P(RollbackTest, AClockSetBackAWeekExtendsNeitherAnEntitlementNorALease) {
  // While the clock is right, "old" has ended.
  ASSERT_TRUE(Checkout("old").has_denied());
  StopServer();

  server_ = std::make_unique<TesseradProcess>(dir_.path() / "d", Options(FaketimeWrapper("-7d")));
  ASSERT_TRUE(server_->Start().ok()) << server_->Log();
  const int64_t real_before = ToUnixMillis(RealClock().Now());
  EXPECT_TRUE(server_->WaitForLog("event=clock_jump", milliseconds(5000))) << server_->Log();

  // Trusted time stays at real time, not a week ago.
  const v1::StatusReply status = StatusNow();
  EXPECT_GE(status.trusted_time_ms(), real_before - 60'000);
  EXPECT_LE(status.trusted_time_ms(), ToUnixMillis(RealClock().Now()) + 60'000);

  // An entitlement that ended yesterday is still over.
  const v1::CheckoutReply old = Checkout("old");
  ASSERT_TRUE(old.has_denied());
  EXPECT_EQ(old.denied().reason(), v1::EXPIRED);
  // A lease runs its TTL from trusted time: it is not a week longer.
  const v1::CheckoutReply granted = Checkout("cad");
  ASSERT_TRUE(granted.has_granted());
  const int64_t real_after = ToUnixMillis(RealClock().Now());
  EXPECT_GE(granted.granted().expires_at_ms(), real_before - 60'000 + kTtlMs);
  EXPECT_LE(granted.granted().expires_at_ms(), real_after + 60'000 + kTtlMs);

  // The jump is sealed into the chain while tesserad runs (not only at its stop).
  std::vector<v1::AuditEvent> jumps;
  for (int i = 0; i < 200 && jumps.empty(); ++i) {
    jumps = EventsOfKind(StoredBlocks(Db()), v1::CLOCK_JUMP);
    if (jumps.empty()) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_GE(jumps.size(), 1u);
  EXPECT_NE(jumps[0].detail().find("back"), std::string::npos) << jumps[0].detail();
  StopServer();

  // The chain still verifies.
  std::vector<v1::AuditBlock> blocks = StoredBlocks(Db());
  audit::ChainVerdict verdict = audit::VerifyChain(blocks, appliance_.spki(), {});
  EXPECT_TRUE(verdict.ok()) << verdict.fault->status.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, RollbackTest,
                         ::testing::Values(Backend::kSoft, Backend::kTpm, Backend::kPkcs11),
                         BackendName);

}  // namespace
}  // namespace tessera::testing
