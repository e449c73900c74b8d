// Shared helpers for tesserad integration tests: start a daemon from JSON snippets and open
// raw clients that have said Hello.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::testing {

// One concurrent feature "cad" (versions 1.0-3.0, 2 seats) unless a test brings its own.
inline const char* kBasicEntitlement = R"({
  "features": [
    {"name": "cad", "version_min": "1.0", "version_max": "3.0", "seats": 2,
     "lease_ttl_ms": 60000, "heartbeat_interval_ms": 20000,
     "max_queue_length": 5, "max_queue_timeout_ms": 60000}
  ]
})";

class ServerTest : public ::testing::Test {
 protected:
  // Starts tesserad; fails the test (fatally) if it does not come up.
  void StartServer(TesseradOptions options) {
    server_ = std::make_unique<TesseradProcess>(dir_.path(), std::move(options));
    auto s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void StartServer(const std::string& entitlement = kBasicEntitlement,
                   const std::string& rules = "", const std::string& config = "{}") {
    TesseradOptions o;
    o.entitlement_json = entitlement;
    o.rules_json = rules;
    o.config_json = config;
    o.keep_database = keep_database_;
    StartServer(std::move(o));
  }

  // A connected client that has completed Hello.
  std::unique_ptr<RawClient> Client(const std::string& client_id, const std::string& user = "alice",
                                    const std::string& host = "ws1") {
    auto c = std::make_unique<RawClient>();
    auto s = c->Connect(server_->port());
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto hello = c->Hello(client_id, user, host);
    EXPECT_TRUE(hello.ok()) << hello.status().ToString();
    if (hello.ok()) {
      EXPECT_TRUE(hello->has_hello_reply()) << hello->DebugString();
    }
    return c;
  }

  void TearDown() override {
    if (server_ && server_->running() && HasFailure()) {
      std::cerr << "---- tesserad.log ----\n" << server_->Log() << "----\n";
    }
  }

  TempDir dir_{"server"};
  bool keep_database_ = false;  // TesseradOptions::keep_database for StartServer(strings)
  std::unique_ptr<TesseradProcess> server_;
};

}  // namespace tessera::testing
