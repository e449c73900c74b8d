#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "client/session.h"
#include "client/token_check.h"
#include "client/wire.h"
#include "tessera/client.h"

namespace tessera::client {
namespace {

std::string DefaultUser() {
  for (const char* name : {"TESSERA_USER", "USER", "LOGNAME"}) {
    // Read once per Client::Create; the SDK never modifies the environment.
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
    if (value != nullptr && *value != '\0') return value;
  }
  return "unknown";
}

std::string DefaultHost() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

Client::Client(std::unique_ptr<Session> session, std::string client_id)
    : session_(std::move(session)), client_id_(std::move(client_id)) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.servers.empty()) return InvalidArgument("no server given");
  std::vector<ServerAddress> servers;
  for (const std::string& text : options.servers) {
    TESSERA_ASSIGN_OR_RETURN(ServerAddress address, ParseServerAddress(text));
    servers.push_back(std::move(address));
  }
  if (options.connect_timeout <= Duration(0) || options.request_timeout <= Duration(0)) {
    return InvalidArgument("timeouts must be positive");
  }
  if (!options.vendor_root_public_key.empty()) {
    TESSERA_RETURN_IF_ERROR(CheckVendorKey(options.vendor_root_public_key));
  }
  if (options.client_id.empty()) options.client_id = wire::NewClientId();
  if (options.user.empty()) options.user = DefaultUser();
  if (options.host.empty()) options.host = DefaultHost();
  std::string client_id = options.client_id;
  TESSERA_ASSIGN_OR_RETURN(auto session, Session::Start(std::move(options), std::move(servers)));
  return std::unique_ptr<Client>(new Client(std::move(session), std::move(client_id)));
}

Result<CheckoutOutcome> Client::Checkout(const CheckoutRequest& request) {
  return session_->Checkout(request);
}

Result<CheckinOutcome> Client::Checkin(std::string_view lease_id, uint64_t metered_units_used) {
  return session_->Checkin(lease_id, metered_units_used);
}

Result<ServerStatus> Client::GetStatus(std::string_view feature) {
  return session_->GetStatus(feature);
}

Status Client::WaitConnected(Duration timeout) { return session_->WaitConnected(timeout); }

std::vector<Lease> Client::Leases() const { return session_->Leases(); }

std::string Client::ConnectedServer() const { return session_->ConnectedServer(); }

}  // namespace tessera::client
