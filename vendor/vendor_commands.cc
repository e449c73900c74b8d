#include "vendor/vendor_commands.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "base/encoding.h"
#include "base/system_clock.h"
#include "base/time.h"
#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "protocol/audit/chain.h"
#include "protocol/audit/envelope.h"

namespace tessera::vendor {
namespace {

// Exports of a year of a busy appliance stay far below this; larger files are refused
// before they are read.
constexpr uintmax_t kMaxInputBytes = 1024ull * 1024 * 1024;

Result<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot read " + path + ": " + ec.message());
  if (size > kMaxInputBytes) return ResourceExhausted(path + " is too large");
  std::ifstream in(path, std::ios::binary);
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in || in.gcount() != static_cast<std::streamsize>(size)) {
    return Unavailable("cannot read " + path);
  }
  return data;
}

Status WriteFile(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) return Unavailable("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

std::string ToString(const Bytes& b) { return {b.begin(), b.end()}; }

Result<std::unique_ptr<hsm::KeyStore>> OpenStore(const std::string& uri, bool insecure) {
  return hsm::OpenKeyStore(uri, {.allow_insecure = insecure});
}

Result<Bytes> ApplianceKey(const CertifyOptions& o) {
  if (!o.appliance_key_spki.empty() && !o.appliance_key_uri.empty()) {
    return InvalidArgument("give --appliance-key-spki or --appliance-key-uri, not both");
  }
  if (!o.appliance_key_spki.empty()) {
    TESSERA_ASSIGN_OR_RETURN(std::string der, ReadFile(o.appliance_key_spki));
    return Bytes(der.begin(), der.end());
  }
  if (o.appliance_key_uri.empty()) {
    return InvalidArgument("--appliance-key-spki or --appliance-key-uri is required");
  }
  TESSERA_ASSIGN_OR_RETURN(auto store, OpenStore(o.appliance_key_uri, o.insecure_dev_keys));
  return store->PublicKeyDer();
}

Status Certify(const CertifyOptions& o, std::ostream& out) {
  if (o.customer.empty()) return InvalidArgument("--customer must not be empty");
  if (o.days < 1 || o.days > 36500) return InvalidArgument("--days must be 1..36500");
  TESSERA_ASSIGN_OR_RETURN(Bytes appliance_spki, ApplianceKey(o));
  TESSERA_ASSIGN_OR_RETURN(auto vendor, OpenStore(o.vendor_key_uri, o.insecure_dev_keys));
  TESSERA_ASSIGN_OR_RETURN(Bytes vendor_spki, vendor->PublicKeyDer());
  TimePoint now = RealClock().Now();
  audit::CertificateRequest request;
  request.identity_public_key = appliance_spki;
  request.customer = o.customer;
  request.not_before = now;
  request.not_after = now + std::chrono::days(o.days);
  request.serial = o.serial != 0 ? o.serial : static_cast<uint64_t>(ToUnixMillis(now));
  TESSERA_ASSIGN_OR_RETURN(auto envelope,
                           audit::IssueCertificate(request, audit::SignerFn(*vendor), vendor_spki));
  TESSERA_RETURN_IF_ERROR(WriteFile(o.out_path, envelope.SerializeAsString()));
  out << "appliance id: " << hsm::ApplianceId(appliance_spki) << "\n"
      << "customer:     " << o.customer << "\n"
      << "serial:       " << request.serial << "\n"
      << "valid:        " << FormatTime(request.not_before) << " .. "
      << FormatTime(request.not_after) << "\n"
      << "vendor key:   " << audit::KeyId(vendor_spki) << "\n"
      << "written:      " << o.out_path << "\n";
  return Status::Ok();
}

Status DevInit(const std::string& dir, std::ostream& out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const std::string key_path = dir + "/" + kRootKeyFile;
  if (std::filesystem::exists(key_path)) {
    return AlreadyExists(key_path + " exists; this directory already holds a vendor root key");
  }
  TESSERA_ASSIGN_OR_RETURN(auto store, OpenStore("soft:" + key_path, true));
  TESSERA_RETURN_IF_ERROR(store->CreateKey(false));
  TESSERA_ASSIGN_OR_RETURN(Bytes spki, store->PublicKeyDer());
  TESSERA_ASSIGN_OR_RETURN(std::string pem, hsm::SpkiToPem(spki));
  TESSERA_RETURN_IF_ERROR(WriteFile(dir + "/" + kRootSpkiFile, ToString(spki)));
  TESSERA_RETURN_IF_ERROR(WriteFile(dir + "/" + kRootPubPemFile, pem));
  out << "development vendor root key (INSECURE: a plain file, never for production)\n"
      << "key uri:    soft:" << key_path << "\n"
      << "key id:     " << audit::KeyId(spki) << "\n"
      << "public key: " << dir << "/" << kRootSpkiFile << " (DER), " << dir << "/"
      << kRootPubPemFile << "\n"
      << pem;
  return Status::Ok();
}

}  // namespace

int RunDevInit(const std::string& dir, std::ostream& out, std::ostream& err) {
  Status s = DevInit(dir, out);
  if (s.ok()) return kExitOk;
  err << "tessera-vendor: dev-init: " << s.ToString() << "\n";
  return kExitError;
}

int RunCertify(const CertifyOptions& options, std::ostream& out, std::ostream& err) {
  Status s = Certify(options, out);
  if (s.ok()) return kExitOk;
  err << "tessera-vendor: certify: " << s.ToString() << "\n";
  return kExitError;
}

int RunAuditVerify(const std::string& export_path, const std::string& vendor_pub_path,
                   std::ostream& out, std::ostream& err) {
  Result<std::string> pub = ReadFile(vendor_pub_path);
  Result<std::string> data = ReadFile(export_path);
  if (!pub.ok() || !data.ok()) {
    err << "tessera-vendor: audit verify: " << (pub.ok() ? data.status() : pub.status()).ToString()
        << "\n";
    return kExitError;
  }
  v1::AuditExport audit_export;
  if (!audit_export.ParseFromString(*data)) {
    err << "tessera-vendor: audit verify: " << export_path << " is not an audit export\n";
    return kExitError;
  }
  audit::ChainVerdict verdict = audit::VerifyAuditExport(audit_export, audit::AsBytes(*pub));
  if (!verdict.ok()) {
    out << "FAILED: bad block " << verdict.fault->sequence << " (position " << verdict.fault->index
        << "): " << audit::AuditErrorTag(verdict.fault->error) << "\n"
        << "  " << verdict.fault->status.ToString() << "\n"
        << "  " << verdict.blocks << " block(s) before it verified\n";
    return kExitVerifyFailed;
  }
  out << "OK: " << verdict.blocks << " block(s), " << verdict.events << " event(s)";
  if (verdict.blocks > 0) {
    out << ", sequence " << verdict.tip.next_sequence - verdict.blocks << ".."
        << verdict.tip.next_sequence - 1;
  }
  const hsm::Digest& last = verdict.tip.previous_hash;
  out << "\nlast block hash: " << HexEncode(last.data(), last.size()) << "\n";
  return kExitOk;
}

}  // namespace tessera::vendor
