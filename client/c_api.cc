// The C ABI over tessera::client::Client. No exception leaves this file: every entry point
// that can allocate catches at the boundary and reports TESSERA_E_INTERNAL.
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "base/system_clock.h"
#include "client/token_check.h"
#include "tessera/client.h"
#include "tessera/tessera_client.h"

using tessera::Status;
using tessera::StatusCode;
namespace tc = tessera::client;

struct tessera_options {
  tc::ClientOptions options;
};

struct tessera_client {
  std::unique_ptr<tc::Client> client;
};

struct tessera_lease {
  tc::Lease lease;
};

struct tessera_status {
  tc::ServerStatus status;
};

namespace {

thread_local std::string last_error;
thread_local int last_token_error = 0;

int Succeed() {
  last_error.clear();
  last_token_error = 0;
  return TESSERA_OK;
}

int Fail(int code, std::string message) {
  last_error = std::move(message);
  last_token_error = 0;
  return code;
}

int FromStatus(const Status& status) {
  int code = TESSERA_E_INTERNAL;
  if (const auto token_error = tc::TokenErrorOf(status)) {
    Fail(TESSERA_E_TOKEN_REJECTED, status.ToString());
    last_token_error = static_cast<int>(*token_error);
    return TESSERA_E_TOKEN_REJECTED;
  }
  switch (status.code()) {
    case StatusCode::kOk:
      return Succeed();
    case StatusCode::kInvalidArgument:
      code = TESSERA_E_INVALID_ARGUMENT;
      break;
    case StatusCode::kUnavailable:
      code = TESSERA_E_UNAVAILABLE;
      break;
    case StatusCode::kDeadlineExceeded:
      code = TESSERA_E_TIMEOUT;
      break;
    case StatusCode::kNotFound:
      code = TESSERA_E_NOT_FOUND;
      break;
    case StatusCode::kFailedPrecondition:
      code = TESSERA_E_FAILED_PRECONDITION;
      break;
    case StatusCode::kResourceExhausted:
      code = TESSERA_E_RESOURCE_EXHAUSTED;
      break;
    default:
      break;
  }
  return Fail(code, status.ToString());
}

bool Empty(const char* s) { return s == nullptr || *s == '\0'; }

template <typename F>
int Guard(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(TESSERA_E_INTERNAL, "out of memory");
  } catch (...) {
    return Fail(TESSERA_E_INTERNAL, "unexpected internal error");
  }
}

int NullArgument(const char* what) {
  return Fail(TESSERA_E_INVALID_ARGUMENT, std::string(what) + " must not be NULL");
}

}  // namespace

extern "C" {

const char* tessera_last_error(void) { return last_error.c_str(); }

const char* tessera_result_name(int result) {
  switch (result) {
    case TESSERA_OK:
      return "ok";
    case TESSERA_DENIED:
      return "denied";
    case TESSERA_E_INVALID_ARGUMENT:
      return "invalid_argument";
    case TESSERA_E_UNAVAILABLE:
      return "unavailable";
    case TESSERA_E_TIMEOUT:
      return "timeout";
    case TESSERA_E_NOT_FOUND:
      return "not_found";
    case TESSERA_E_FAILED_PRECONDITION:
      return "failed_precondition";
    case TESSERA_E_RESOURCE_EXHAUSTED:
      return "resource_exhausted";
    case TESSERA_E_INTERNAL:
      return "internal";
    case TESSERA_E_TOKEN_REJECTED:
      return "token_rejected";
    default:
      return "unknown";
  }
}

const char* tessera_denial_reason_name(int reason) {
  if (reason < 0 || reason > tc::kMaxDenialReason) return "unspecified";
  // The names are string literals, so the view's data is NUL-terminated.
  return tc::DenialReasonName(static_cast<tc::DenialReason>(reason)).data();
}

const char* tessera_token_error_name(int token_error) {
  if (token_error == TESSERA_TOKEN_OK) return "ok";
  if (token_error < 1 || token_error > tc::kMaxTokenError) return "unknown";
  // The tags are string literals, so the view's data is NUL-terminated.
  return tc::TokenErrorTag(static_cast<tc::TokenError>(token_error)).data();
}

int tessera_last_token_error(void) { return last_token_error; }

tessera_options* tessera_options_new(void) { return new (std::nothrow) tessera_options(); }

void tessera_options_free(tessera_options* options) { delete options; }

int tessera_options_add_server(tessera_options* options, const char* host_port) {
  if (options == nullptr || host_port == nullptr) return NullArgument("options and host_port");
  return Guard([&] {
    auto address = tc::ParseServerAddress(host_port);
    if (!address.ok()) return FromStatus(address.status());
    options->options.servers.push_back(address->ToString());
    return Succeed();
  });
}

int tessera_options_add_servers(tessera_options* options, const char* list) {
  if (options == nullptr || list == nullptr) return NullArgument("options and list");
  return Guard([&] {
    auto servers = tc::ParseServerList(list);
    if (!servers.ok()) return FromStatus(servers.status());
    for (auto& s : *servers) options->options.servers.push_back(std::move(s));
    return Succeed();
  });
}

int tessera_options_set_identity(tessera_options* options, const char* client_id, const char* user,
                                 const char* host, const char* app_name, const char* app_version) {
  if (options == nullptr) return NullArgument("options");
  return Guard([&] {
    auto set = [](std::string& field, const char* value) {
      if (!Empty(value)) field = value;
    };
    set(options->options.client_id, client_id);
    set(options->options.user, user);
    set(options->options.host, host);
    set(options->options.app_name, app_name);
    set(options->options.app_version, app_version);
    return Succeed();
  });
}

int tessera_options_set_timeouts(tessera_options* options, int64_t connect_timeout_ms,
                                 int64_t request_timeout_ms) {
  if (options == nullptr) return NullArgument("options");
  if (connect_timeout_ms > 0)
    options->options.connect_timeout = tessera::Duration(connect_timeout_ms);
  if (request_timeout_ms > 0)
    options->options.request_timeout = tessera::Duration(request_timeout_ms);
  return Succeed();
}

int tessera_options_set_tls(tessera_options* options, const char* ca_file,
                            const char* server_name) {
  if (options == nullptr) return NullArgument("options");
  return Guard([&] {
    options->options.tls.enabled = true;
    options->options.tls.ca_file = Empty(ca_file) ? "" : ca_file;
    options->options.tls.server_name = Empty(server_name) ? "" : server_name;
    return Succeed();
  });
}

int tessera_options_set_checkin_on_close(tessera_options* options, int enabled) {
  if (options == nullptr) return NullArgument("options");
  options->options.checkin_on_close = enabled != 0;
  return Succeed();
}

int tessera_options_set_lease_callback(tessera_options* options, tessera_lease_event_fn fn,
                                       void* user_data) {
  if (options == nullptr) return NullArgument("options");
  return Guard([&] {
    if (fn == nullptr) {
      options->options.on_lease_event = nullptr;
      return Succeed();
    }
    options->options.on_lease_event = [fn, user_data](const tc::LeaseEvent& event) {
      tessera_lease_event c{};
      c.kind = event.kind == tc::LeaseEvent::Kind::kRevoked ? TESSERA_LEASE_REVOKED
               : event.kind == tc::LeaseEvent::Kind::kLost  ? TESSERA_LEASE_LOST
                                                            : TESSERA_LEASE_RESUMED;
      c.lease_id = event.lease_id.c_str();
      c.previous_lease_id = event.previous_lease_id.c_str();
      c.feature = event.feature.c_str();
      c.loss_reason = static_cast<int>(event.loss);
      c.denial_reason = static_cast<int>(event.denial);
      c.detail = event.detail.c_str();
      c.token_error = event.token_error ? static_cast<int>(*event.token_error) : 0;
      fn(user_data, &c);
    };
    return Succeed();
  });
}

int tessera_options_set_vendor_key(tessera_options* options, const uint8_t* spki_der,
                                   size_t length) {
  if (options == nullptr || spki_der == nullptr) return NullArgument("options and spki_der");
  return Guard([&] {
    std::vector<uint8_t> key(spki_der, spki_der + length);
    if (Status valid = tc::CheckVendorKey(key); !valid.ok()) return FromStatus(valid);
    options->options.vendor_root_public_key = std::move(key);
    return Succeed();
  });
}

int tessera_options_set_vendor_key_file(tessera_options* options, const char* path) {
  if (options == nullptr || path == nullptr) return NullArgument("options and path");
  return Guard([&] {
    auto key = tc::LoadVendorRootPublicKey(path);
    if (!key.ok()) return FromStatus(key.status());
    options->options.vendor_root_public_key = std::move(key).value();
    return Succeed();
  });
}

int tessera_client_new(const tessera_options* options, tessera_client** client_out) {
  if (client_out == nullptr) return NullArgument("client_out");
  *client_out = nullptr;
  if (options == nullptr) return NullArgument("options");
  return Guard([&] {
    auto client = tc::Client::Create(options->options);
    if (!client.ok()) return FromStatus(client.status());
    *client_out = new tessera_client{std::move(client).value()};
    return Succeed();
  });
}

void tessera_client_free(tessera_client* client) { delete client; }

const char* tessera_client_id(const tessera_client* client) {
  return client == nullptr ? "" : client->client->client_id().c_str();
}

int tessera_checkout(tessera_client* client, const char* feature, const char* version,
                     uint32_t count, int64_t queue_timeout_ms, int64_t borrow_duration_ms,
                     tessera_lease** lease_out, int* denial_out) {
  if (client == nullptr || feature == nullptr || lease_out == nullptr) {
    return NullArgument("client, feature and lease_out");
  }
  *lease_out = nullptr;
  if (denial_out != nullptr) *denial_out = TESSERA_DENIAL_UNSPECIFIED;
  return Guard([&] {
    tc::CheckoutRequest request;
    request.feature = feature;
    request.version = Empty(version) ? "" : version;
    request.count = count;
    request.queue_timeout = tessera::Duration(queue_timeout_ms > 0 ? queue_timeout_ms : 0);
    request.borrow_duration = tessera::Duration(borrow_duration_ms > 0 ? borrow_duration_ms : 0);
    auto outcome = client->client->Checkout(request);
    if (!outcome.ok()) return FromStatus(outcome.status());
    if (!outcome->granted()) {
      const tc::Denial& denial = outcome->denial();
      if (denial_out != nullptr) *denial_out = static_cast<int>(denial.reason);
      return Fail(TESSERA_DENIED, "denied: " + std::string(tc::DenialReasonName(denial.reason)) +
                                      (denial.detail.empty() ? "" : ": " + denial.detail));
    }
    *lease_out = new tessera_lease{outcome->lease()};
    return Succeed();
  });
}

int tessera_checkin(tessera_client* client, const char* lease_id, int* released_out) {
  if (client == nullptr || lease_id == nullptr) return NullArgument("client and lease_id");
  if (released_out != nullptr) *released_out = 0;
  return Guard([&] {
    auto outcome = client->client->Checkin(lease_id);
    if (!outcome.ok()) return FromStatus(outcome.status());
    if (released_out != nullptr) *released_out = outcome->released ? 1 : 0;
    return Succeed();
  });
}

void tessera_lease_free(tessera_lease* lease) { delete lease; }
const char* tessera_lease_id(const tessera_lease* l) {
  return l == nullptr ? "" : l->lease.lease_id.c_str();
}
const char* tessera_lease_feature(const tessera_lease* l) {
  return l == nullptr ? "" : l->lease.feature.c_str();
}
const char* tessera_lease_version(const tessera_lease* l) {
  return l == nullptr ? "" : l->lease.version.c_str();
}
uint32_t tessera_lease_count(const tessera_lease* l) { return l == nullptr ? 0 : l->lease.count; }
int64_t tessera_lease_issued_at_ms(const tessera_lease* l) {
  return l == nullptr ? 0 : tessera::ToUnixMillis(l->lease.issued_at);
}
int64_t tessera_lease_expires_at_ms(const tessera_lease* l) {
  return l == nullptr ? 0 : tessera::ToUnixMillis(l->lease.expires_at);
}
int tessera_lease_borrowed(const tessera_lease* l) {
  return l != nullptr && l->lease.borrowed ? 1 : 0;
}
int tessera_lease_overdraft(const tessera_lease* l) {
  return l != nullptr && l->lease.overdraft ? 1 : 0;
}

const uint8_t* tessera_lease_token(const tessera_lease* l, size_t* length_out) {
  if (length_out != nullptr) *length_out = l == nullptr ? 0 : l->lease.token.size();
  if (l == nullptr) return nullptr;
  return reinterpret_cast<const uint8_t*>(l->lease.token.data());
}
int tessera_lease_token_verified(const tessera_lease* l) {
  return l != nullptr && l->lease.token_verified ? 1 : 0;
}
const char* tessera_lease_appliance_id(const tessera_lease* l) {
  return l == nullptr ? "" : l->lease.appliance_id.c_str();
}
const char* tessera_lease_customer(const tessera_lease* l) {
  return l == nullptr ? "" : l->lease.customer.c_str();
}
uint64_t tessera_lease_block_sequence(const tessera_lease* l) {
  return l == nullptr ? 0 : l->lease.block_sequence;
}

int tessera_verify_lease_token(const uint8_t* token, size_t token_length,
                               const uint8_t* vendor_key_der, size_t vendor_key_length,
                               const char* feature, int64_t now_ms, tessera_lease** lease_out,
                               int* token_error_out) {
  if (token_error_out != nullptr) *token_error_out = TESSERA_TOKEN_OK;
  if (lease_out == nullptr) return NullArgument("lease_out");
  *lease_out = nullptr;
  if ((token == nullptr && token_length > 0) || vendor_key_der == nullptr || feature == nullptr) {
    return NullArgument("token, vendor_key_der and feature");
  }
  return Guard([&] {
    const std::string_view bytes(reinterpret_cast<const char*>(token), token_length);
    const std::vector<uint8_t> key(vendor_key_der, vendor_key_der + vendor_key_length);
    const tessera::TimePoint now =
        now_ms > 0 ? tessera::FromUnixMillis(now_ms) : tessera::RealClock().Now();
    auto lease =
        tc::VerifyLeaseToken(token == nullptr ? std::string_view() : bytes, key, feature, now);
    if (!lease.ok()) {
      const int rc = FromStatus(lease.status());
      if (token_error_out != nullptr) *token_error_out = last_token_error;
      return rc;
    }
    *lease_out = new tessera_lease{std::move(lease).value()};
    return Succeed();
  });
}

int tessera_get_status(tessera_client* client, const char* feature, tessera_status** status_out) {
  if (client == nullptr || status_out == nullptr) return NullArgument("client and status_out");
  *status_out = nullptr;
  return Guard([&] {
    auto status = client->client->GetStatus(Empty(feature) ? "" : feature);
    if (!status.ok()) return FromStatus(status.status());
    *status_out = new tessera_status{std::move(status).value()};
    return Succeed();
  });
}

void tessera_status_free(tessera_status* status) { delete status; }

int tessera_status_feature_count(const tessera_status* s) {
  return s == nullptr ? 0 : static_cast<int>(s->status.features.size());
}

namespace {
const tc::FeatureStatus* FeatureAt(const tessera_status* s, int index) {
  if (s == nullptr || index < 0 || static_cast<size_t>(index) >= s->status.features.size()) {
    return nullptr;
  }
  return &s->status.features[static_cast<size_t>(index)];
}
}  // namespace

const char* tessera_status_feature_name(const tessera_status* s, int index) {
  const auto* f = FeatureAt(s, index);
  return f == nullptr ? nullptr : f->name.c_str();
}
uint32_t tessera_status_feature_seats(const tessera_status* s, int index) {
  const auto* f = FeatureAt(s, index);
  return f == nullptr ? 0 : f->seats;
}
uint32_t tessera_status_feature_in_use(const tessera_status* s, int index) {
  const auto* f = FeatureAt(s, index);
  return f == nullptr ? 0 : f->in_use;
}
int tessera_status_my_lease_count(const tessera_status* s) {
  return s == nullptr ? 0 : static_cast<int>(s->status.my_leases.size());
}

}  // extern "C"
