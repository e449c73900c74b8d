#include "hsm/crypto.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string_view>

namespace tessera::hsm {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A P-256 key made by OpenSSL directly, independent of every backend.
struct TestKey {
  TestKey() : key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key, &der);
    spki.assign(der, der + len);
    OPENSSL_free(der);
  }
  ~TestKey() { EVP_PKEY_free(key); }
  Bytes SignDer(const Digest& d) const {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    unsigned char sig[80];
    size_t len = sizeof(sig);
    EVP_PKEY_sign_init(ctx);
    EVP_PKEY_sign(ctx, sig, &len, d.data(), d.size());
    EVP_PKEY_CTX_free(ctx);
    return Bytes(sig, sig + len);
  }
  EVP_PKEY* key;
  Bytes spki;
};

TEST(CryptoTest, Sha256KnownAnswer) {
  Digest d = Sha256(AsBytes("abc"));
  EXPECT_EQ(HexEncode(d.data(), d.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, SpkiRoundTripsThroughThePoint) {
  TestKey k;
  ASSERT_EQ(k.spki.size(), 91u);
  Bytes point(k.spki.end() - 65, k.spki.end());
  auto rebuilt = SpkiFromEcPoint(point);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, k.spki);
  auto from_xy = SpkiFromXY(std::span<const uint8_t>(point).subspan(1, 32),
                            std::span<const uint8_t>(point).subspan(33, 32));
  ASSERT_TRUE(from_xy.ok());
  EXPECT_EQ(*from_xy, k.spki);
}

TEST(CryptoTest, PointNotOnCurveIsRejected) {
  Bytes point(65, 0x11);
  point[0] = 0x04;
  EXPECT_EQ(SpkiFromEcPoint(point).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SpkiFromEcPoint(Bytes(64, 4)).status().code(), StatusCode::kInvalidArgument);
}

TEST(CryptoTest, DerSignatureConvertsAndVerifies) {
  TestKey k;
  Digest d = Sha256(AsBytes("payload"));
  auto sig = SignatureFromDer(k.SignDer(d));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifyDigestSignature(k.spki, d, *sig).ok());
  EXPECT_TRUE(VerifySignature(k.spki, AsBytes("payload"), *sig).ok());
  Signature bad = *sig;
  bad[10] ^= 1;
  EXPECT_EQ(VerifySignature(k.spki, AsBytes("payload"), bad).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifySignature(k.spki, AsBytes("other"), *sig).code(), StatusCode::kPermissionDenied);
}

TEST(CryptoTest, VerifierKeepsTheParsedKey) {
  TestKey k;
  auto verifier = Verifier::Create(k.spki);
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
  for (std::string_view msg : {"one", "two"}) {
    auto sig = SignatureFromDer(k.SignDer(Sha256(AsBytes(msg))));
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(verifier->Verify(AsBytes(msg), *sig).ok());
    EXPECT_EQ(verifier->Verify(AsBytes("three"), *sig).code(), StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(Verifier::Create(Bytes{0x30, 0x00}).status().code(), StatusCode::kInvalidArgument);
}

TEST(CryptoTest, ShortComponentsAreLeftPadded) {
  uint8_t r[] = {0x01, 0x02};
  uint8_t s[] = {0x03};
  auto sig = SignatureFromRS(r, s);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ((*sig)[30], 0x01);
  EXPECT_EQ((*sig)[31], 0x02);
  EXPECT_EQ((*sig)[63], 0x03);
  EXPECT_EQ((*sig)[0], 0x00);
  EXPECT_FALSE(SignatureFromRS(Bytes(33, 1), s).ok());
}

TEST(CryptoTest, ApplianceIdIsBase32OfSpkiHash) {
  TestKey k;
  std::string id = ApplianceId(k.spki);
  EXPECT_EQ(id.size(), 52u);
  Digest d = Sha256(k.spki);
  EXPECT_EQ(id, Base32Encode(d.data(), d.size()));
  auto pem = SpkiToPem(k.spki);
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
}

TEST(CryptoTest, GarbageKeyIsInvalidArgument) {
  Signature sig{};
  EXPECT_EQ(VerifySignature(Bytes{1, 2, 3}, AsBytes("x"), sig).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::hsm
