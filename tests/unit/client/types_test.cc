#include <gtest/gtest.h>

#include <set>

#include "tessera/client.h"

namespace tessera::client {
namespace {

CheckoutRequest Request(const std::string& feature, uint32_t count = 1) {
  CheckoutRequest request;
  request.feature = feature;
  request.count = count;
  return request;
}

TEST(ParseServerAddressTest, HostAndPort) {
  auto a = ParseServerAddress("license1.example:7400");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "license1.example");
  EXPECT_EQ(a->port, 7400);
  EXPECT_EQ(a->ToString(), "license1.example:7400");
}

TEST(ParseServerAddressTest, BracketedIpv6) {
  auto a = ParseServerAddress("[::1]:7400");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->ToString(), "[::1]:7400");
}

TEST(ParseServerAddressTest, RejectsMalformed) {
  for (const char* bad : {"", "host", "host:", ":7400", "host:0", "host:65536", "host:7x",
                          "::1:7400", "[::1]7400", "a b:1"}) {
    auto a = ParseServerAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(ParseServerListTest, CommasAndSpaces) {
  auto list = ParseServerList(" a:1, b:2 ,c:3 ");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
}

TEST(ParseServerListTest, EmptyOrBadEntryFails) {
  EXPECT_FALSE(ParseServerList(" , ").ok());
  EXPECT_FALSE(ParseServerList("a:1,b").ok());
}

TEST(NamesTest, DenialReasonsHaveDistinctNames) {
  std::set<std::string_view> names;
  for (int i = 0; i <= kMaxDenialReason; ++i) {
    names.insert(DenialReasonName(static_cast<DenialReason>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kMaxDenialReason + 1));
  EXPECT_EQ(DenialReasonName(DenialReason::kNoSeats), "no_seats");
  EXPECT_EQ(DenialReasonName(static_cast<DenialReason>(999)), "unspecified");
  EXPECT_EQ(LossReasonName(LossReason::kExpired), "expired");
}

TEST(ClientCreateTest, RejectsBadOptionsWithoutConnecting) {
  ClientOptions options;
  EXPECT_EQ(Client::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.servers = {"nonsense"};
  EXPECT_EQ(Client::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.servers = {"127.0.0.1:9"};
  options.tls.enabled = true;
  options.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(Client::Create(options).status().code(), StatusCode::kInvalidArgument);
}

TEST(ClientCreateTest, GeneratesAClientId) {
  ClientOptions options;
  options.servers = {"127.0.0.1:9"};  // nothing listens on the discard port here
  options.checkin_on_close = false;
  auto a = Client::Create(options);
  auto b = Client::Create(options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE((*a)->client_id().empty());
  EXPECT_NE((*a)->client_id(), (*b)->client_id());
}

TEST(ClientCreateTest, UnreachableServerIsATypedError) {
  ClientOptions options;
  options.servers = {"127.0.0.1:9"};
  options.connect_timeout = Seconds(2);
  options.checkin_on_close = false;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status().ToString();
  EXPECT_NE(outcome.status().message().find("cannot reach any server"), std::string::npos);
}

TEST(ClientCreateTest, InvalidCheckoutIsRejectedLocally) {
  ClientOptions options;
  options.servers = {"127.0.0.1:9"};
  options.checkin_on_close = false;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Checkout(Request("")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Checkout(Request("cad", 0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Checkin("").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::client
