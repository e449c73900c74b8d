// tessera-client: check out, inspect and check in seats from the command line.
// Usage and exit codes: docs/CLIENT.md.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/cli/cli_support.h"
#include "tessera/client.h"

namespace {

using tessera::Duration;
namespace tc = tessera::client;
namespace cli = tessera::client::cli;

struct GlobalFlags {
  std::vector<std::string> servers;
  std::string client_id;
  std::string user;
  std::string app_name = "tessera-client";
  double timeout_seconds = 10;
  std::string tls_ca;
  std::string tls_server_name;
  std::string vendor_pub;
};

struct CheckoutFlags {
  std::string feature;
  std::string version;
  uint32_t count = 1;
  std::string queue_timeout;
  std::string borrow;
  double hold_for_seconds = 0;
};

// Set by the lease-event callback; read by the holding loop.
std::mutex lost_mu;
std::optional<std::string> lost_message;
bool lost_to_token = false;  // the loss was a renewal or resume token that failed verification

int Fail(const tessera::Status& status) {
  std::fprintf(stderr, "tessera-client: %s\n", status.ToString().c_str());
  return cli::ExitCodeForStatus(status);
}

tessera::Result<std::unique_ptr<tc::Client>> MakeClient(const GlobalFlags& flags,
                                                        bool checkin_on_close) {
  tc::ClientOptions options;
  // The CLI never changes its environment, so the getenv calls below cannot race.
  if (!flags.servers.empty()) {
    for (const auto& s : flags.servers) {
      TESSERA_ASSIGN_OR_RETURN(auto list, tc::ParseServerList(s));
      options.servers.insert(options.servers.end(), list.begin(), list.end());
    }
  } else if (const char* env = std::getenv("TESSERA_SERVERS");  // NOLINT(concurrency-mt-unsafe)
             env != nullptr && *env != '\0') {
    TESSERA_ASSIGN_OR_RETURN(options.servers, tc::ParseServerList(env));
  } else {
    return tessera::InvalidArgument("no server: use --server host:port or TESSERA_SERVERS");
  }
  options.client_id = flags.client_id;
  if (options.client_id.empty()) {
    const char* env = std::getenv("TESSERA_CLIENT_ID");  // NOLINT(concurrency-mt-unsafe)
    if (env != nullptr) options.client_id = env;
  }
  options.user = flags.user;
  options.app_name = flags.app_name;
  options.app_version = "0.1.0";
  options.request_timeout = Duration(static_cast<int64_t>(flags.timeout_seconds * 1000));
  options.connect_timeout = std::min(options.request_timeout, tessera::Seconds(3));
  if (!flags.tls_ca.empty()) {
    options.tls.enabled = true;
    options.tls.ca_file = flags.tls_ca;
    options.tls.server_name = flags.tls_server_name;
  }
  std::string vendor_pub = flags.vendor_pub;
  if (vendor_pub.empty()) {
    const char* env = std::getenv("TESSERA_VENDOR_PUB");  // NOLINT(concurrency-mt-unsafe)
    if (env != nullptr) vendor_pub = env;
  }
  if (!vendor_pub.empty()) {
    auto key = tc::LoadVendorRootPublicKey(vendor_pub);
    if (!key.ok()) return tessera::InvalidArgument("--vendor-pub: " + key.status().message());
    options.vendor_root_public_key = std::move(key).value();
  }
  options.checkin_on_close = checkin_on_close;
  options.on_lease_event = [](const tc::LeaseEvent& event) {
    if (event.kind == tc::LeaseEvent::Kind::kResumed) {
      std::fprintf(stderr, "tessera-client: lease %s resumed after a reconnect\n",
                   event.lease_id.c_str());
      return;
    }
    std::string why = event.detail;
    if (why.empty()) why = std::string(tc::LossReasonName(event.loss));
    std::lock_guard lock(lost_mu);
    lost_message = "lease " + event.lease_id + " " +
                   std::string(tc::LeaseEventKindName(event.kind)) + ": " + why;
    lost_to_token = event.token_error.has_value();
  };
  return tc::Client::Create(std::move(options));
}

void PrintLease(const tc::Lease& lease, const std::string& client_id) {
  std::printf("granted lease %s feature=%s version=%s count=%u expires=%s%s%s client_id=%s\n",
              lease.lease_id.c_str(), lease.feature.c_str(),
              lease.version.empty() ? "-" : lease.version.c_str(), lease.count,
              tessera::FormatTime(lease.expires_at).c_str(), lease.borrowed ? " borrowed" : "",
              lease.overdraft ? " overdraft" : "", client_id.c_str());
  if (lease.token_verified) {
    std::printf("token verified appliance=%s customer=\"%s\" block=%llu token_expires=%s\n",
                lease.appliance_id.c_str(), lease.customer.c_str(),
                static_cast<unsigned long long>(lease.block_sequence),
                tessera::FormatTime(lease.token_expires_at).c_str());
  }
  std::fflush(stdout);
}

// Waits for SIGINT/SIGTERM (blocked in every thread since main), the hold time, or a lost
// lease. Returns the exit code.
int Hold(double hold_for_seconds) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  const bool forever = hold_for_seconds <= 0;
  double left = hold_for_seconds;
  for (;;) {
    {
      std::lock_guard lock(lost_mu);
      if (lost_message) {
        std::fprintf(stderr, "tessera-client: %s\n", lost_message->c_str());
        return lost_to_token ? cli::kExitTokenRejected : cli::kExitLeaseLost;
      }
    }
    if (!forever && left <= 0) return cli::kExitOk;
    const double step = forever ? 0.2 : std::min(0.2, left);
    timespec wait{};
    wait.tv_sec = static_cast<time_t>(step);
    wait.tv_nsec = static_cast<long>((step - static_cast<double>(wait.tv_sec)) * 1e9);
    if (sigtimedwait(&signals, nullptr, &wait) > 0) return cli::kExitOk;
    left -= step;
  }
}

int RunCheckout(const GlobalFlags& flags, const CheckoutFlags& co) {
  tc::CheckoutRequest request;
  request.feature = co.feature;
  request.version = co.version;
  request.count = co.count;
  if (!co.queue_timeout.empty()) {
    auto d = cli::ParseDuration(co.queue_timeout);
    if (!d.ok()) return Fail(d.status());
    request.queue_timeout = *d;
  }
  if (!co.borrow.empty()) {
    auto d = cli::ParseDuration(co.borrow);
    if (!d.ok()) return Fail(d.status());
    request.borrow_duration = *d;
  }
  const bool borrow = request.borrow_duration > Duration(0);
  auto client = MakeClient(flags, /*checkin_on_close=*/false);
  if (!client.ok()) return Fail(client.status());
  auto outcome = (*client)->Checkout(request);
  if (!outcome.ok()) return Fail(outcome.status());
  if (!outcome->granted()) {
    const tc::Denial& denial = outcome->denial();
    std::fprintf(stderr, "tessera-client: denied: %s%s%s\n",
                 std::string(tc::DenialReasonName(denial.reason)).c_str(),
                 denial.detail.empty() ? "" : ": ", denial.detail.c_str());
    return cli::ExitCodeForDenial(denial.reason);
  }
  const tc::Lease lease = outcome->lease();
  PrintLease(lease, (*client)->client_id());
  if (borrow && co.hold_for_seconds <= 0) return cli::kExitOk;  // the borrow lives on offline
  const int held = Hold(co.hold_for_seconds);
  if (held != cli::kExitOk) return held;
  auto checkin = (*client)->Checkin(lease.lease_id);
  if (!checkin.ok()) return Fail(checkin.status());
  std::printf("checked in %s\n", lease.lease_id.c_str());
  return cli::kExitOk;
}

int RunStatus(const GlobalFlags& flags, const std::string& feature) {
  auto client = MakeClient(flags, /*checkin_on_close=*/false);
  if (!client.ok()) return Fail(client.status());
  auto status = (*client)->GetStatus(feature);
  if (!status.ok()) return Fail(status.status());
  std::printf("server %s (%s)%s\n", status->server.c_str(), status->server_id.c_str(),
              status->draining ? " draining" : "");
  if (!status->appliance_id.empty()) std::printf("appliance %s\n", status->appliance_id.c_str());
  if (status->insecure_keys) {
    std::printf("WARNING: this server signs with development keys kept in a file (insecure)\n");
  }
  std::printf("%-24s %-12s %7s %7s %9s %6s  %s\n", "FEATURE", "MODEL", "SEATS", "IN_USE",
              "OVERDRAFT", "QUEUED", "VERSIONS");
  for (const auto& f : status->features) {
    std::printf("%-24s %-12s %7u %7u %9u %6u  %s-%s\n", f.name.c_str(), f.model.c_str(), f.seats,
                f.in_use, f.overdraft_in_use, f.queued, f.version_min.c_str(),
                f.version_max.c_str());
  }
  for (const auto& l : status->my_leases) {
    std::printf("my lease %s feature=%s count=%u expires=%s\n", l.lease_id.c_str(),
                l.feature.c_str(), l.count, tessera::FormatTime(l.expires_at).c_str());
  }
  if (!feature.empty() && status->features.empty()) {
    std::fprintf(stderr, "tessera-client: no such feature: %s\n", feature.c_str());
    return cli::ExitCodeForDenial(tc::DenialReason::kNoSuchFeature);
  }
  return cli::kExitOk;
}

int RunCheckin(const GlobalFlags& flags, const std::string& lease_id) {
  auto client = MakeClient(flags, /*checkin_on_close=*/false);
  if (!client.ok()) return Fail(client.status());
  auto outcome = (*client)->Checkin(lease_id);
  if (!outcome.ok()) return Fail(outcome.status());
  if (!outcome->released) {
    std::fprintf(stderr, "tessera-client: lease %s not released: %s\n", lease_id.c_str(),
                 std::string(tc::LossReasonName(outcome->lost)).c_str());
    return cli::kExitNotReleased;
  }
  std::printf("checked in %s\n", lease_id.c_str());
  return cli::kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"tessera-client: check out floating seats from tesserad"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  GlobalFlags flags;
  app.add_option("-s,--server", flags.servers,
                 "server host:port, repeatable, tried in order (default: $TESSERA_SERVERS)");
  app.add_option("--client-id", flags.client_id,
                 "client id the leases are bound to (default: $TESSERA_CLIENT_ID or random)");
  app.add_option("--user", flags.user, "user name sent to the server (default: $USER)");
  app.add_option("--app-name", flags.app_name, "application name sent to the server");
  app.add_option("--timeout", flags.timeout_seconds, "request timeout in seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--tls-ca", flags.tls_ca, "use TLS; PEM file of the CA to trust");
  app.add_option("--tls-server-name", flags.tls_server_name, "name expected in the certificate");
  app.add_option("--vendor-pub", flags.vendor_pub,
                 "vendor root public key (DER or PEM); every lease token is verified against it "
                 "(default: $TESSERA_VENDOR_PUB)");

  CheckoutFlags co;
  auto* checkout = app.add_subcommand("checkout", "check out a seat and hold it until a signal");
  checkout->add_option("feature", co.feature, "feature name")->required();
  checkout->add_option("--version", co.version, "application version, e.g. 2.1");
  checkout->add_option("--count", co.count, "seats at once")->check(CLI::Range(1u, 1000000u));
  checkout->add_option("--queue-timeout", co.queue_timeout,
                       "wait in the queue up to this long (e.g. 30s)");
  checkout->add_option("--borrow", co.borrow, "borrow offline for this long (e.g. 7d)");
  checkout->add_option("--hold-for", co.hold_for_seconds,
                       "check in after this many seconds instead of waiting for a signal");

  std::string status_feature;
  auto* status = app.add_subcommand("status", "show feature usage");
  status->add_option("feature", status_feature, "only this feature");

  std::string lease_id;
  auto* checkin = app.add_subcommand("checkin", "give a lease back (use the holder's --client-id)");
  checkin->add_option("lease_id", lease_id, "lease id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cli::kExitUsage;
  }
  if (*checkout) return RunCheckout(flags, co);
  if (*status) return RunStatus(flags, status_feature);
  return RunCheckin(flags, lease_id);
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts, so only Hold() ever sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera-client: internal error: %s\n", e.what());
    return cli::kExitError;
  }
}
