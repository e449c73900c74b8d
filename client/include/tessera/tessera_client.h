/* The Tessera client SDK, C ABI.
 *
 * Opaque handles, integer result codes and plain structs, so any language with a C FFI can
 * check out seats from tesserad. Every function is safe to call from any thread; a handle may
 * be used by several threads at once, except that freeing it must be the last call on it.
 *
 * Results: functions that can fail return a tessera_result. TESSERA_OK is success;
 * TESSERA_DENIED (checkout only) is a business answer, the reason in *denial_out; negative
 * values are errors. tessera_last_error() then describes the failure (or the denial) of the
 * last call made on the calling thread.
 *
 * Callbacks run on a thread owned by the client, one at a time; they may call any function
 * here except tessera_client_free on their own client. The event and its strings are valid
 * only during the call.
 */
#ifndef TESSERA_TESSERA_CLIENT_H_
#define TESSERA_TESSERA_CLIENT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tessera_result {
  TESSERA_OK = 0,
  TESSERA_DENIED = 1,                 /* checkout denied; see tessera_denial_reason */
  TESSERA_E_INVALID_ARGUMENT = -1,    /* bad input (null pointer, malformed address) */
  TESSERA_E_UNAVAILABLE = -2,         /* no server reachable, or connection lost */
  TESSERA_E_TIMEOUT = -3,             /* no answer within the request timeout */
  TESSERA_E_NOT_FOUND = -4,           /* no such lease / index out of range */
  TESSERA_E_FAILED_PRECONDITION = -5, /* e.g. the server refused the Hello */
  TESSERA_E_RESOURCE_EXHAUSTED = -6,  /* too many requests in flight */
  TESSERA_E_INTERNAL = -7,            /* protocol violation or a bug */
  TESSERA_E_TOKEN_REJECTED = -8       /* the lease token failed verification; see
                                         tessera_last_token_error */
} tessera_result;

/* Why a lease token was refused (tessera_token_error_name gives the stable tag). */
typedef enum tessera_token_error {
  TESSERA_TOKEN_OK = 0,
  TESSERA_TOKEN_MISSING = 1,                   /* "token.missing" */
  TESSERA_TOKEN_MALFORMED = 2,                 /* "audit.malformed" */
  TESSERA_TOKEN_BAD_CERTIFICATE_SIGNATURE = 3, /* not certified by the vendor key */
  TESSERA_TOKEN_BAD_CERTIFICATE = 4,
  TESSERA_TOKEN_CERTIFICATE_NOT_YET_VALID = 5,
  TESSERA_TOKEN_CERTIFICATE_EXPIRED = 6,
  TESSERA_TOKEN_BAD_HEADER_SIGNATURE = 7,
  TESSERA_TOKEN_APPLIANCE_MISMATCH = 8,
  TESSERA_TOKEN_BAD_INCLUSION_PROOF = 9,
  TESSERA_TOKEN_NOT_A_LEASE = 10,
  TESSERA_TOKEN_NONCE_MISMATCH = 11,
  TESSERA_TOKEN_FEATURE_MISMATCH = 12,
  TESSERA_TOKEN_LEASE_EXPIRED = 13,
  TESSERA_TOKEN_LEASE_MISMATCH = 14 /* "token.lease_mismatch" */
} tessera_token_error;

/* Same numbers as tessera.v1.DenialReason. */
typedef enum tessera_denial_reason {
  TESSERA_DENIAL_UNSPECIFIED = 0,
  TESSERA_DENIAL_NO_SUCH_FEATURE = 1,
  TESSERA_DENIAL_NO_SEATS = 2,
  TESSERA_DENIAL_VERSION_OUT_OF_RANGE = 3,
  TESSERA_DENIAL_NOT_STARTED = 4,
  TESSERA_DENIAL_EXPIRED = 5,
  TESSERA_DENIAL_DENIED_BY_RULE = 6,
  TESSERA_DENIAL_OVER_USER_MAXIMUM = 7,
  TESSERA_DENIAL_OVER_GROUP_MAXIMUM = 8,
  TESSERA_DENIAL_QUEUE_TIMEOUT = 9,
  TESSERA_DENIAL_METERED_EXHAUSTED = 10,
  TESSERA_DENIAL_BORROW_NOT_ALLOWED = 11,
  TESSERA_DENIAL_INVALID_REQUEST = 12,
  TESSERA_DENIAL_SERVER_DRAINING = 13,
  TESSERA_DENIAL_UNAVAILABLE = 14,
  TESSERA_DENIAL_QUEUE_CANCELLED = 15,
  TESSERA_DENIAL_LEASE_NOT_RESUMABLE = 16
} tessera_denial_reason;

typedef enum tessera_lease_event_kind {
  TESSERA_LEASE_REVOKED = 0, /* the server revoked the lease */
  TESSERA_LEASE_LOST = 1,    /* a renewal or resume was refused; the seat is gone */
  TESSERA_LEASE_RESUMED = 2  /* re-granted after a reconnect */
} tessera_lease_event_kind;

typedef struct tessera_lease_event {
  int kind;                      /* tessera_lease_event_kind */
  const char* lease_id;          /* never NULL */
  const char* previous_lease_id; /* RESUMED: the id before; "" otherwise */
  const char* feature;
  int loss_reason;   /* tessera.v1.LeaseLossReason number, 0 when not known */
  int denial_reason; /* tessera_denial_reason, for a refused resume */
  const char* detail;
  /* Added in 0.1 (token verification): LOST because a renewal or resume token was refused;
   * a tessera_token_error, 0 otherwise. */
  int token_error;
} tessera_lease_event;

typedef void (*tessera_lease_event_fn)(void* user_data, const tessera_lease_event* event);

typedef struct tessera_options tessera_options;
typedef struct tessera_client tessera_client;
typedef struct tessera_lease tessera_lease;
typedef struct tessera_status tessera_status;

/* The message of the last failure (or denial) on this thread; "" after a success. The pointer
 * stays valid until the next call on this thread. */
const char* tessera_last_error(void);
/* "ok", "denied", "invalid_argument", ... */
const char* tessera_result_name(int result);
/* "no_seats", ... */
const char* tessera_denial_reason_name(int reason);
/* "audit.nonce_mismatch", "token.missing", ...; "ok" for 0. */
const char* tessera_token_error_name(int token_error);
/* The tessera_token_error of the last call on this thread that returned
 * TESSERA_E_TOKEN_REJECTED; 0 after any other result. */
int tessera_last_token_error(void);

/* Options. Strings are copied. */
tessera_options* tessera_options_new(void);
void tessera_options_free(tessera_options* options);
int tessera_options_add_server(tessera_options* options, const char* host_port);
/* A comma-separated list as in TESSERA_SERVERS. */
int tessera_options_add_servers(tessera_options* options, const char* list);
int tessera_options_set_identity(tessera_options* options, const char* client_id, const char* user,
                                 const char* host, const char* app_name,
                                 const char* app_version); /* NULL or "" keeps the default */
int tessera_options_set_timeouts(tessera_options* options, int64_t connect_timeout_ms,
                                 int64_t request_timeout_ms); /* <= 0 keeps the default */
int tessera_options_set_tls(tessera_options* options, const char* ca_file, const char* server_name);
int tessera_options_set_checkin_on_close(tessera_options* options, int enabled);
int tessera_options_set_lease_callback(tessera_options* options, tessera_lease_event_fn fn,
                                       void* user_data);
/* The vendor root public key the application was built with (DER SubjectPublicKeyInfo).
 * Once set, every lease token is verified and a checkout whose token fails returns
 * TESSERA_E_TOKEN_REJECTED (its seat is checked back in). Production applications must set
 * it; without it tokens are not verified. TESSERA_E_INVALID_ARGUMENT for a key that is not a
 * P-256 public key. */
int tessera_options_set_vendor_key(tessera_options* options, const uint8_t* spki_der,
                                   size_t length);
/* The same, read from a file: DER (vendor-root.spki) or PEM. TESSERA_E_NOT_FOUND when the
 * file cannot be read. */
int tessera_options_set_vendor_key_file(tessera_options* options, const char* path);

/* Creates a client (it connects in the background). *client_out is NULL on failure. */
int tessera_client_new(const tessera_options* options, tessera_client** client_out);
/* Checks in held leases when enabled (the default), closes, frees. NULL is ignored. */
void tessera_client_free(tessera_client* client);
/* The client id (generated when not given); valid while the client lives. */
const char* tessera_client_id(const tessera_client* client);

/* Checks out `count` seats of `feature` (version may be NULL or ""). queue_timeout_ms > 0
 * waits in the queue; borrow_duration_ms > 0 asks for an offline borrow.
 * Returns TESSERA_OK with *lease_out set (free it with tessera_lease_free; the client keeps
 * renewing the seat until checkin), TESSERA_DENIED with *denial_out set, or an error.
 * denial_out may be NULL. */
int tessera_checkout(tessera_client* client, const char* feature, const char* version,
                     uint32_t count, int64_t queue_timeout_ms, int64_t borrow_duration_ms,
                     tessera_lease** lease_out, int* denial_out);
/* Gives the lease back. *released_out (may be NULL) is 1 when the server released it, 0 when
 * it no longer held it. */
int tessera_checkin(tessera_client* client, const char* lease_id, int* released_out);

/* A lease snapshot (the client renews the real lease in the background). */
void tessera_lease_free(tessera_lease* lease);
const char* tessera_lease_id(const tessera_lease* lease);
const char* tessera_lease_feature(const tessera_lease* lease);
const char* tessera_lease_version(const tessera_lease* lease);
uint32_t tessera_lease_count(const tessera_lease* lease);
int64_t tessera_lease_issued_at_ms(const tessera_lease* lease);
int64_t tessera_lease_expires_at_ms(const tessera_lease* lease);
int tessera_lease_borrowed(const tessera_lease* lease);
int tessera_lease_overdraft(const tessera_lease* lease);
/* The signed lease token (raw bytes, owned by the lease; *length_out its size, 0 when the
 * server sent none). Keep it to re-check a borrowed lease offline. */
const uint8_t* tessera_lease_token(const tessera_lease* lease, size_t* length_out);
/* 1 when the token was verified against the vendor key; the facts below come from it. */
int tessera_lease_token_verified(const tessera_lease* lease);
const char* tessera_lease_appliance_id(const tessera_lease* lease);
const char* tessera_lease_customer(const tessera_lease* lease);
uint64_t tessera_lease_block_sequence(const tessera_lease* lease);

/* Verifies a lease token offline (e.g. a borrowed lease at application start, without a
 * network): certified by the vendor key, signed by the appliance, for `feature`, not ended at
 * now_ms (Unix ms; <= 0: the current time). The nonce is the token's own. Returns TESSERA_OK
 * with *lease_out (free with tessera_lease_free), TESSERA_E_TOKEN_REJECTED with
 * *token_error_out (may be NULL) set, or TESSERA_E_INVALID_ARGUMENT. */
int tessera_verify_lease_token(const uint8_t* token, size_t token_length,
                               const uint8_t* vendor_key_der, size_t vendor_key_length,
                               const char* feature, int64_t now_ms, tessera_lease** lease_out,
                               int* token_error_out);

/* Feature usage; feature NULL or "" for all. Free with tessera_status_free. */
int tessera_get_status(tessera_client* client, const char* feature, tessera_status** status_out);
void tessera_status_free(tessera_status* status);
int tessera_status_feature_count(const tessera_status* status);
/* index in [0, count); NULL / 0 when out of range. */
const char* tessera_status_feature_name(const tessera_status* status, int index);
uint32_t tessera_status_feature_seats(const tessera_status* status, int index);
uint32_t tessera_status_feature_in_use(const tessera_status* status, int index);
/* Leases the server holds for this client id. */
int tessera_status_my_lease_count(const tessera_status* status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_TESSERA_CLIENT_H_ */
