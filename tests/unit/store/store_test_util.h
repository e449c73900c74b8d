// Helpers for the store's tests: temp directories, raw SQLite access, engine fixtures.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "server/engine/engine.h"
#include "server/store/batch_writer.h"
#include "server/store/store.h"

namespace tessera::store::testing {

inline const TimePoint kT0 = FromUnixMillis(1'767'225'600'000);  // 2026-01-01T00:00Z

// A fresh directory removed (with its contents) at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tessera-store-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A raw connection for inspecting or tampering with a database behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  // The first column of the first row as text ("" when there is none).
  std::string Text(const std::string& sql, const std::string& bind = "") {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    if (!bind.empty()) sqlite3_bind_text(s, 1, bind.data(), static_cast<int>(bind.size()), nullptr);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(s);
    return out;
  }
  int64_t Int(const std::string& sql, const std::string& bind = "") {
    std::string t = Text(sql, bind);
    return t.empty() ? 0 : std::stoll(t);
  }

 private:
  sqlite3* db_ = nullptr;
};

inline std::unique_ptr<Store> OpenOrDie(const std::string& path, StoreOptions options = {}) {
  Result<std::unique_ptr<Store>> store = Store::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return nullptr;
  return std::move(store).value();
}

inline engine::Feature Concurrent(std::string name, uint32_t seats) {
  engine::Feature f;
  f.name = std::move(name);
  f.seats = seats;
  f.version_min = "1.0";
  f.version_max = "9.9";
  f.lease_ttl = Seconds(60);
  f.heartbeat_interval = Seconds(20);
  return f;
}

inline engine::ClientInfo Client(const std::string& id) {
  return engine::ClientInfo{id, "user-" + id, "host-" + id};
}

inline engine::CheckoutRequest Req(const engine::ClientInfo& client, const std::string& feature,
                                   uint32_t count = 1) {
  engine::CheckoutRequest r;
  r.client = client;
  r.feature = feature;
  r.count = count;
  r.version = "2.0";
  return r;
}

inline engine::Engine MakeEngine(std::vector<engine::Feature> features,
                                 std::vector<engine::TokenPool> pools = {}) {
  engine::Entitlement e;
  e.features = std::move(features);
  e.pools = std::move(pools);
  Result<engine::Engine> engine = engine::Engine::Create({}, std::move(e), {});
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return std::move(engine).value();
}

// A lease with every field set to something other than its default.
inline engine::Lease SampleLease(engine::LeaseId id) {
  engine::Lease l;
  l.id = id;
  l.feature = "cad";
  l.version = "2.1.3";
  l.count = 3;
  l.client = engine::ClientInfo{"client-" + std::to_string(id), "alice", "ws-17"};
  l.nonce = std::string("n\0nce\xff", 6) + std::to_string(id);
  l.issued_at = kT0 + Seconds(static_cast<int64_t>(id));
  l.expires_at = l.issued_at + Seconds(300);
  l.heartbeat_interval = Seconds(60);
  l.borrowed = id % 2 == 0;
  l.overdraft = id % 3 == 0;
  l.in_grace = id % 5 == 0;
  l.tokens = 7;
  l.metered_units = UINT64_MAX - id;
  l.lingering = id % 7 == 0;
  return l;
}

// Submits `unit` and waits for its callback; returns the callback's Status.
inline Status SubmitAndWait(BatchWriter& writer, Unit unit) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  writer.Submit(std::move(unit), [&done](const Status& s, uint64_t) { done.set_value(s); });
  return result.get();
}

// A unit with one event carrying `detail` (for log and size tests).
inline Unit MarkerUnit(const std::string& detail) {
  engine::Event e;
  e.kind = engine::EventKind::kDenied;
  e.at = kT0;
  e.feature = "cad";
  e.client = Client("marker");
  e.reason = engine::DenialReason::kNoSeats;
  e.detail = detail;
  Unit u;
  u.events.push_back(std::move(e));
  return u;
}

}  // namespace tessera::store::testing
