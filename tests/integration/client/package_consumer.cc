// A C++ application built against the installed SDK (compiled by examples_test.cc through
// pkg-config, not part of the build). Checks out one seat from $TESSERA_SERVERS.
#include <tessera/client.h>

#include <cstdio>
#include <cstdlib>

int main() {
  namespace tc = tessera::client;
  const char* servers = std::getenv("TESSERA_SERVERS");
  auto list = tc::ParseServerList(servers != nullptr ? servers : "");
  if (!list.ok()) {
    std::fprintf(stderr, "%s\n", list.status().ToString().c_str());
    return 1;
  }
  tc::ClientOptions options;
  options.servers = *list;
  options.app_name = "package-consumer";
  auto client = tc::Client::Create(options);
  if (!client.ok()) return 1;
  tc::CheckoutRequest request;
  request.feature = "cad";
  request.version = "2.0";
  auto outcome = (*client)->Checkout(request);
  if (!outcome.ok()) {
    std::fprintf(stderr, "%s\n", outcome.status().ToString().c_str());
    return 1;
  }
  if (!outcome->granted()) {
    std::fprintf(stderr, "denied: %s\n",
                 std::string(tc::DenialReasonName(outcome->denial().reason)).c_str());
    return 2;
  }
  std::printf("granted %s\n", outcome->lease().lease_id.c_str());
  auto checkin = (*client)->Checkin(outcome->lease().lease_id);
  return checkin.ok() && checkin->released ? 0 : 1;
}
