// TLS 1.3: a checkout over TLS with a certificate generated for the test.
#include <gtest/gtest.h>

#include "tests/integration/server/server_test_util.h"
#include "tests/support/tls_files.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

TEST_F(ServerTest, CheckoutOverTls13) {
  auto tls = MakeSelfSignedCert(dir_.path());
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  StartServer(kBasicEntitlement, "",
              R"({"tls_cert_file": ")" + tls->cert.string() + R"(", "tls_key_file": ")" +
                  tls->key.string() + R"("})");
  EXPECT_NE(server_->Log().find("tls=on"), std::string::npos);

  RawClient c;
  auto s = c.ConnectTls(server_->port(), tls->cert);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.TlsVersion(), "TLSv1.3");
  auto hello = c.Hello("tls-client");
  ASSERT_TRUE(hello.ok()) << hello.status().ToString();
  ASSERT_TRUE(hello->has_hello_reply());
  auto lease = c.Checkout("cad", "2.0");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(lease->checkout_reply().has_granted()) << lease->DebugString();
  auto in = c.Checkin(lease->checkout_reply().granted().lease_id());
  EXPECT_TRUE(in->checkin_reply().released());

  // A plain-TCP client on the TLS port gets nowhere, and the server stays healthy.
  RawClient plain;
  ASSERT_TRUE(plain.Connect(server_->port()).ok());
  auto h = plain.Hello("plain");
  EXPECT_FALSE(h.ok() && h->has_hello_reply());
  EXPECT_TRUE(c.StatusQuery()->has_status_reply());
}

TEST(ServerTlsConfig, MismatchedKeyIsABadConfig) {
  TempDir a("tls"), b("tls");
  auto one = MakeSelfSignedCert(a.path());
  auto two = MakeSelfSignedCert(b.path());
  ASSERT_TRUE(one.ok() && two.ok());
  TesseradOptions o;
  o.config_json = R"({"tls_cert_file": ")" + one->cert.string() + R"(", "tls_key_file": ")" +
                  two->key.string() + R"("})";
  TesseradProcess p(a.path(), o);
  auto s = p.Start();
  EXPECT_NE(s.message().find("exited with 3"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace tessera::testing
