#include "tests/integration/admin/admin_test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "hsm/crypto.h"

namespace tessera::admin::testing {
namespace {

constexpr int64_t k2026 = 1'767'225'600'000;  // 2026-01-01T00:00Z

int RunCounter() {
  static int n = 0;
  return ++n;
}

}  // namespace

ToolResult RunTool(const std::vector<std::string>& argv, const std::filesystem::path& scratch) {
  const int n = RunCounter();
  const std::string out_path = (scratch / ("run-" + std::to_string(n) + ".out")).string();
  const std::string err_path = (scratch / ("run-" + std::to_string(n) + ".err")).string();
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::dup2(in, 0);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ToolResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadBytes(out_path);
  r.err = ReadBytes(err_path);
  return r;
}

void WriteBytes(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SoftKey::SoftKey(const std::filesystem::path& file) : file_(file) {
  auto store = hsm::OpenKeyStore("soft:" + file.string(), {.allow_insecure = true});
  if (!store.ok()) throw std::runtime_error(store.status().ToString());
  store_ = std::move(*store);
  Status created = store_->CreateKey(false);
  if (!created.ok()) throw std::runtime_error(created.ToString());
  auto spki = store_->PublicKeyDer();
  if (!spki.ok()) throw std::runtime_error(spki.status().ToString());
  spki_ = *spki;
}

std::string SoftKey::id() const { return hsm::ApplianceId(spki_); }

v1::SignedEnvelope Certify(SoftKey& vendor, const Bytes& appliance_spki) {
  audit::CertificateRequest req;
  req.identity_public_key = appliance_spki;
  req.customer = "Example Corp";
  req.not_before = FromUnixMillis(k2026);
  req.not_after = FromUnixMillis(k2026) + std::chrono::days(365);
  req.serial = 42;
  auto cert = audit::IssueCertificate(req, vendor.signer(), vendor.spki());
  if (!cert.ok()) throw std::runtime_error(cert.status().ToString());
  return *cert;
}

v1::AuditBlock ChainBuilder::Seal(const std::vector<std::string>& events, uint64_t counter) {
  audit::SealParams params;
  params.appliance_id = key_.id();
  params.counter = counter;
  params.wall_time = FromUnixMillis(k2026 + 1000 * static_cast<int64_t>(tip_.next_sequence));
  auto sealed = audit::SealBlock(tip_, events, params, key_.signer());
  if (!sealed.ok()) throw std::runtime_error(sealed.status().ToString());
  tip_ = sealed->next;
  v1::AuditBlock block;
  *block.mutable_header() = sealed->header_envelope;
  for (const auto& e : events) block.add_events(e);
  return block;
}

std::vector<v1::AuditBlock> ChainBuilder::SealMany(int n, int per_block) {
  std::vector<v1::AuditBlock> out;
  for (int b = 0; b < n; ++b) {
    std::vector<std::string> events;
    for (int i = 0; i < per_block; ++i) events.push_back(Denial(key_.id(), events_++));
    out.push_back(Seal(events));
  }
  return out;
}

std::string Grant(const std::string& appliance_id, const std::string& lease_id,
                  const std::string& user) {
  v1::AuditEvent e;
  e.set_kind(v1::LEASE_GRANTED);
  e.set_at_ms(k2026 + 5000);
  e.set_appliance_id(appliance_id);
  e.set_lease_id(lease_id);
  e.set_feature("cad");
  e.set_count(2);
  e.set_client_id("client-1");
  e.set_user(user);
  e.set_host("ws-1");
  v1::AuditLease* lease = e.mutable_lease();
  lease->set_count(2);
  lease->set_issued_at_ms(k2026 + 5000);
  lease->set_expires_at_ms(k2026 + 65'000);
  return e.SerializeAsString();
}

std::string Denial(const std::string& appliance_id, int n) {
  v1::AuditEvent e;
  e.set_kind(v1::CHECKOUT_DENIED);
  e.set_at_ms(k2026 + n);
  e.set_appliance_id(appliance_id);
  e.set_feature("cad");
  e.set_client_id("client-" + std::to_string(n));
  e.set_user("user" + std::to_string(n));
  e.set_host("host-" + std::to_string(n));
  e.set_count(1);
  e.set_denial_reason(2);  // NO_SEATS
  e.set_detail("all 5 seats in use");
  return e.SerializeAsString();
}

v1::AuditExport MakeExport(const std::vector<v1::AuditBlock>& blocks,
                           const v1::SignedEnvelope* certificate,
                           const std::string& previous_hash) {
  v1::AuditExport out;
  out.set_format_version(1);
  if (certificate != nullptr) *out.mutable_certificate() = *certificate;
  out.set_previous_hash(previous_hash.empty() ? std::string(32, '\0') : previous_hash);
  for (const auto& b : blocks) *out.add_blocks() = b;
  return out;
}

}  // namespace tessera::admin::testing
