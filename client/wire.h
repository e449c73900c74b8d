// Conversions between tessera.v1 messages and the public client types. Values from the wire
// are range-checked: an enum number this build does not know becomes kUnspecified.
#pragma once

#include <string>

#include "tessera/client.h"
#include "tessera/v1/tessera.pb.h"

namespace tessera::client::wire {

Lease FromProto(const tessera::v1::Lease& lease);
DenialReason FromProto(tessera::v1::DenialReason reason);
LossReason FromProto(tessera::v1::LeaseLossReason reason);
FeatureStatus FromProto(const tessera::v1::FeatureStatus& feature);

// Fills a CheckoutRequest message; `nonce` is raw bytes.
void ToProto(const CheckoutRequest& request, const std::string& nonce,
             tessera::v1::CheckoutRequest* out);

// `count` cryptographically random bytes (OpenSSL RAND_bytes).
std::string RandomBytes(size_t count);
// A fresh client id: "c-" and 26 base32 characters (128 random bits).
std::string NewClientId();

}  // namespace tessera::client::wire
