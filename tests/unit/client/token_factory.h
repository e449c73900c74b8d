// Builds lease tokens the way an appliance does (the audit library, in-memory keys), plus the
// broken ones a client must refuse. The header names no protobuf type, so a test file that
// speaks tessera.v1 frames can use it (tessera.pb.h and audit.pb.h cannot share a file).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"

namespace tessera::client::testing {

enum class TokenMode {
  kGenuine,             // certified by the genuine vendor key; everything matches
  kForeignVendor,       // certified by another vendor key (the server's own)
  kOtherNonce,          // the lease event carries another nonce
  kOtherFeature,        // the lease event is for another feature
  kExpired,             // the lease ended a minute ago
  kExpiredCertificate,  // the appliance certificate ended yesterday
  kMissing,             // no token at all
  kTruncated,           // the token's first half
  kCorrupted,           // one byte of the lease event changed after sealing
  kOtherLease,          // a genuine token for another lease id
};

// What the token of one lease states.
struct TokenFacts {
  std::string lease_id;
  std::string feature;
  std::string nonce;
  TimePoint issued_at;
  TimePoint expires_at;
  bool renewal = false;  // LEASE_RENEWED rather than LEASE_GRANTED
};

// Thread safety: Make may be called from several threads at once.
class TokenFactory {
 public:
  // Certificates are valid around `now` (the real time the client will judge them at).
  explicit TokenFactory(TimePoint now);
  ~TokenFactory();
  TokenFactory(const TokenFactory&) = delete;
  TokenFactory& operator=(const TokenFactory&) = delete;

  // The vendor root public key genuine applications are built with (DER SPKI).
  std::vector<uint8_t> genuine_vendor_spki() const;
  // The key the server's own certificate is signed with (kForeignVendor).
  std::vector<uint8_t> foreign_vendor_spki() const;
  std::string appliance_id() const;

  // A token for `facts` sealed in a new block of the appliance's chain; "" for kMissing.
  std::string Make(TokenMode mode, const TokenFacts& facts);
  // How many blocks were sealed so far (the next block's sequence).
  uint64_t blocks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::client::testing
