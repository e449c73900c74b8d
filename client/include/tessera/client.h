// The Tessera client SDK (C++): check out floating seats from tesserad.
//
//   tessera::client::ClientOptions options;
//   options.servers = {"license1:7070", "license2:7070"};
//   auto client = tessera::client::Client::Create(options);
//   if (!client.ok()) { ... client.status() ... }
//   auto outcome = (*client)->Checkout({.feature = "cad", .version = "2.1"});
//   if (!outcome.ok())              -> transport failure (no server reachable, timeout)
//   else if (outcome->granted())    -> outcome->lease(): renewed in the background
//   else                            -> outcome->denial(): a typed business answer
//
// A Client keeps one connection to the first reachable server of its list, renews every lease
// it holds from a background thread (one Heartbeat for many leases), reconnects after a
// network blip or a server restart (trying the servers in order) and resumes its leases there
// under the same lease ids without taking a second seat. Loss of a lease is reported through
// ClientOptions::on_lease_event.
//
// Errors: calls never throw. Transport failures are a non-OK Status (kUnavailable: no server
// reachable or connection lost before the answer; kDeadlineExceeded: no answer within the
// request timeout; kInvalidArgument: bad input; kInternal: protocol violation by the peer).
// Business answers (denials, "not released") are values.
//
// Thread safety: every method of Client may be called from any thread concurrently, and from
// inside the lease-event callback, except destroying the Client (which must not happen in its
// own callback). Callbacks run one at a time on a thread owned by the Client, never on the
// caller's thread and never on the network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace tessera::client {

// Why a checkout was refused (tessera.v1.DenialReason, same numbers).
enum class DenialReason {
  kUnspecified = 0,
  kNoSuchFeature = 1,
  kNoSeats = 2,
  kVersionOutOfRange = 3,
  kNotStarted = 4,
  kExpired = 5,
  kDeniedByRule = 6,
  kOverUserMaximum = 7,
  kOverGroupMaximum = 8,
  kQueueTimeout = 9,
  kMeteredExhausted = 10,
  kBorrowNotAllowed = 11,
  kInvalidRequest = 12,
  kServerDraining = 13,
  kUnavailable = 14,
  kQueueCancelled = 15,
  kLeaseNotResumable = 16,
};
inline constexpr int kMaxDenialReason = 16;

// "no_seats", "no_such_feature", ...; "unspecified" for unknown values.
std::string_view DenialReasonName(DenialReason reason);

// Why a lease is gone (tessera.v1.LeaseLossReason, same numbers).
enum class LossReason {
  kUnspecified = 0,
  kUnknown = 1,  // the server does not know it (or it belongs to another client)
  kExpired = 2,
  kRevoked = 3,
  kReleased = 4,  // already checked in
};

// "unknown", "expired", "revoked", "released", "unspecified".
std::string_view LossReasonName(LossReason reason);

// A granted seat lease. Times are the server's wall clock.
struct Lease {
  std::string lease_id;
  std::string feature;
  std::string version;
  uint32_t count = 1;
  TimePoint issued_at;
  TimePoint expires_at;  // the latest expiry the server has confirmed
  Duration heartbeat_interval{0};
  bool borrowed = false;   // an offline borrow: never renewed nor resumed
  bool overdraft = false;  // granted beyond the entitled seats
  std::string nonce;       // the client nonce the server echoed (raw bytes)
  std::string token;       // the signed lease token (raw bytes); may be empty

  // Set when the token was verified against ClientOptions::vendor_root_public_key (always,
  // when that key is set: a lease whose token fails is never handed out). The facts below
  // come from the verified token; they are empty/zero when token_verified is false.
  bool token_verified = false;
  std::string appliance_id;     // base32 id of the appliance that signed the lease
  std::string customer;         // the customer named in the appliance's certificate
  uint64_t block_sequence = 0;  // the audit block holding the lease event
  TimePoint token_expires_at;   // the lease expiry the token proves (its own end)
};

// Why the SDK refused a lease token (docs/CLIENT.md, "Lease tokens"). The first twelve
// mirror the audit verifier's checks; kMissing and kLeaseMismatch are the SDK's own.
enum class TokenError {
  kMissing = 1,             // "token.missing": a grant without a token
  kMalformed,               // "audit.malformed"
  kCertificateSignature,    // "audit.bad_certificate_signature": not our vendor's appliance
  kCertificateInvalid,      // "audit.bad_certificate"
  kCertificateNotYetValid,  // "audit.certificate_not_yet_valid"
  kCertificateExpired,      // "audit.certificate_expired"
  kHeaderSignature,         // "audit.bad_header_signature"
  kApplianceMismatch,       // "audit.appliance_mismatch"
  kInclusionProof,          // "audit.bad_inclusion_proof"
  kNotALease,               // "audit.not_a_lease"
  kNonceMismatch,           // "audit.nonce_mismatch": a token for another request (replay)
  kFeatureMismatch,         // "audit.feature_mismatch"
  kLeaseExpired,            // "audit.lease_expired"
  kLeaseMismatch,           // "token.lease_mismatch": the token names another lease id/count
};
inline constexpr int kMaxTokenError = 14;

// The stable tag, e.g. "audit.nonce_mismatch", "token.missing".
std::string_view TokenErrorTag(TokenError error);

// A rejected token is a Status with code kPermissionDenied and a message
// "token rejected: <tag>: <detail>". TokenErrorOf recovers the TokenError from such a Status
// (nullopt for OK and any other Status).
std::optional<TokenError> TokenErrorOf(const Status& status);

struct Denial {
  DenialReason reason = DenialReason::kUnspecified;
  std::string detail;  // the server's human-readable explanation
};

// The answer to a checkout: a lease or a typed denial.
class CheckoutOutcome {
 public:
  CheckoutOutcome(Lease lease) : v_(std::move(lease)) {}     // NOLINT(google-explicit-constructor)
  CheckoutOutcome(Denial denial) : v_(std::move(denial)) {}  // NOLINT(google-explicit-constructor)

  bool granted() const { return std::holds_alternative<Lease>(v_); }
  // REQUIRES: granted().
  const Lease& lease() const { return std::get<Lease>(v_); }
  // REQUIRES: !granted().
  const Denial& denial() const { return std::get<Denial>(v_); }

 private:
  std::variant<Lease, Denial> v_;
};

struct CheckoutRequest {
  std::string feature;
  std::string version;  // dotted numeric, "2.1"
  uint32_t count = 1;   // seats at once, all or nothing
  // > 0: wait in the server's FIFO queue up to this long for a seat (the call blocks that long
  // at most, on top of the request timeout).
  Duration queue_timeout{0};
  Duration borrow_duration{0};  // > 0: an offline borrow lease of this length
  uint64_t metered_units = 0;   // metered features: units drawn (0 means 1)
};

struct CheckinOutcome {
  bool released = false;
  LossReason lost = LossReason::kUnspecified;  // why not, when !released
};

struct FeatureStatus {
  std::string name;
  std::string model;
  std::string version_min;
  std::string version_max;
  uint32_t seats = 0;
  uint32_t in_use = 0;
  uint32_t overdraft_in_use = 0;
  uint32_t queued = 0;
  TimePoint starts_at;
  TimePoint ends_at;
  uint64_t metered_remaining = 0;
  std::string pool;
  bool borrowable = false;
};

struct ServerStatus {
  std::string server;     // "host:port" that answered
  std::string server_id;  // its name from HelloReply
  std::vector<FeatureStatus> features;
  std::vector<Lease> my_leases;  // leases the server holds for this client id
  bool draining = false;
  TimePoint server_time;
  std::string appliance_id;    // base32 id of the server's identity key; empty without one
  bool insecure_keys = false;  // the server runs on development (file) keys
};

// Something happened to a held lease without the application asking.
struct LeaseEvent {
  enum class Kind {
    kRevoked,  // the server pushed LeaseRevoked (an admin, or a draining server)
    kLost,     // a renewal or a resume was refused: the seat is gone
    kResumed,  // after a reconnect the server re-granted the lease (lease_id may change when
               // the server could not keep it; previous_lease_id names the old one)
  };
  Kind kind = Kind::kLost;
  std::string lease_id;
  std::string previous_lease_id;  // kResumed only
  std::string feature;
  LossReason loss = LossReason::kUnspecified;        // kLost after a refused renewal
  DenialReason denial = DenialReason::kUnspecified;  // kLost after a refused resume
  std::string detail;
  // kLost because a renewal or resume token failed verification (the SDK then checked the
  // seat back in); detail holds the rejection.
  std::optional<TokenError> token_error;
};

// "revoked", "lost", "resumed".
std::string_view LeaseEventKindName(LeaseEvent::Kind kind);

struct TlsOptions {
  bool enabled = false;
  std::string ca_file;      // PEM bundle that must have issued the server's certificate
  std::string server_name;  // name checked against the certificate; default: the host
};

struct ClientOptions {
  // "host:port" (or "[v6addr]:port"), tried in order; the first reachable one serves.
  std::vector<std::string> servers;
  // Identity. client_id binds leases to this client; generated (random) when empty.
  std::string client_id;
  std::string user;  // default: $USER / the login name
  std::string host;  // default: the host name
  std::string app_name;
  std::string app_version;

  Duration connect_timeout = Seconds(3);   // TCP + TLS + Hello, per server
  Duration request_timeout = Seconds(10);  // per call, from the call to its answer
  Duration max_reconnect_backoff = Seconds(2);
  TlsOptions tls;

  // Check in every held lease (best effort, bounded by request_timeout) when the Client is
  // destroyed.
  bool checkin_on_close = true;

  // Called for revoked, lost and resumed leases. See the thread-safety note above.
  std::function<void(const LeaseEvent&)> on_lease_event;

  // The vendor root public key the application was built with (DER SubjectPublicKeyInfo,
  // P-256), e.g. from LoadVendorRootPublicKey. When set, every grant, resume and renewal token
  // is verified offline (docs/CLIENT.md, "Lease tokens"): a checkout whose token fails is an
  // error (TokenErrorOf) and its seat is checked back in; a renewal or resume whose token
  // fails loses the lease (LeaseEvent::token_error). When empty, tokens are passed through
  // unverified: production applications must set it.
  std::vector<uint8_t> vendor_root_public_key;
};

// Reads a vendor root public key file: DER SubjectPublicKeyInfo (as `tessera-vendor
// dev-init` writes vendor-root.spki) or PEM ("-----BEGIN PUBLIC KEY-----"). Returns the DER
// bytes. Errors: kNotFound (cannot read), kInvalidArgument (not a P-256 public key).
Result<std::vector<uint8_t>> LoadVendorRootPublicKey(const std::string& path);

// Verifies a lease token offline, e.g. a borrowed lease re-checked at application start with
// no network: the vendor root key signed the appliance certificate, the appliance signed the
// block holding the lease, the lease is for `feature` and has not ended at `now`. The nonce
// check uses the nonce inside the token (the application compares Lease::nonce with the one it
// kept, if it kept one). Returns the lease the token proves (token_verified set; version,
// borrowed, heartbeat interval and overdraft from the signed event; token = token_bytes).
// Errors: the token-rejected Status (TokenErrorOf); kInvalidArgument for a key that is not a
// P-256 public key.
Result<Lease> VerifyLeaseToken(std::string_view token_bytes,
                               const std::vector<uint8_t>& vendor_root_public_key,
                               std::string_view feature, TimePoint now);

struct ServerAddress {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "host:port", "[::1]:7070"
};

// Parses "host:port" or "[v6]:port". Errors: kInvalidArgument.
Result<ServerAddress> ParseServerAddress(std::string_view text);
// Splits a comma- or whitespace-separated list ("a:1,b:2") as in TESSERA_SERVERS and checks
// each entry. Errors: kInvalidArgument.
Result<std::vector<std::string>> ParseServerList(std::string_view text);

class Session;  // internal

class Client {
 public:
  // Validates the options and starts connecting in the background (the call does not wait).
  // Errors: kInvalidArgument (no servers, malformed address, unreadable CA file).
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  // Checks in held leases when options.checkin_on_close, then closes the connection and joins
  // the background threads. Pending calls on other threads fail with kUnavailable.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Asks for a seat. A granted lease is renewed in the background until Checkin or until the
  // server refuses it (see on_lease_event). Errors: see the file comment.
  Result<CheckoutOutcome> Checkout(const CheckoutRequest& request);

  // Gives a lease back. The SDK stops renewing it whatever the outcome.
  Result<CheckinOutcome> Checkin(std::string_view lease_id, uint64_t metered_units_used = 0);

  // Feature usage as the server sees it; `feature` empty means all.
  Result<ServerStatus> GetStatus(std::string_view feature = {});

  // Blocks until connected (Hello done) or `timeout` passes. Errors: kDeadlineExceeded.
  Status WaitConnected(Duration timeout);

  // The leases held now, with the latest confirmed expiry.
  std::vector<Lease> Leases() const;

  // The server currently connected ("host:port"), empty when disconnected.
  std::string ConnectedServer() const;

  const std::string& client_id() const { return client_id_; }

 private:
  explicit Client(std::unique_ptr<Session> session, std::string client_id);

  std::unique_ptr<Session> session_;
  std::string client_id_;
};

}  // namespace tessera::client
