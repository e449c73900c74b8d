// Lease token verification inside the SDK: runs the audit verifier (protocol/audit/token.h)
// with what this client expects and turns its typed errors into the client's TokenError.
//
// Thread safety: free functions over values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "tessera/client.h"

namespace tessera::client {

// What a token must prove for this client.
struct TokenExpectation {
  std::string_view nonce;     // the nonce this client sent with the checkout (raw bytes)
  std::string_view feature;   // the feature it asked for
  std::string_view lease_id;  // the lease id the server granted; empty: not checked
  uint32_t count = 0;         // the seats granted; 0: not checked
};

// The Status of a rejected token: kPermissionDenied, "token rejected: <tag>: <detail>".
Status TokenRejected(TokenError error, std::string_view detail);

// Checks that `key` is a DER SubjectPublicKeyInfo of a P-256 key. Errors: kInvalidArgument.
Status CheckVendorKey(std::span<const uint8_t> key);

// Verifies `token` against the vendor root `key` at `now` and, on success, records the
// verified facts in *lease (token, token_verified, appliance_id, customer, block_sequence,
// token_expires_at). *lease is unchanged on failure.
// Errors: the token-rejected Status (kMissing for an empty token).
Status VerifyLeaseTokenInto(const std::string& token, std::span<const uint8_t> key,
                            const TokenExpectation& expect, TimePoint now, Lease* lease);

}  // namespace tessera::client
