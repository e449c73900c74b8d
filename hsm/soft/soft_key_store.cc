#include "hsm/soft/soft_key_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// std::strerror is not thread-safe; the error_category message is.
std::string ErrnoText() { return std::error_code(errno, std::generic_category()).message(); }

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Writes `data` to `path` atomically (temp file, fsync, rename) with mode 0600.
Status WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeHsmError(HsmError::kDevice, "cannot write " + tmp + ": " + ErrnoText());
  }
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return MakeHsmError(HsmError::kDevice, "cannot write " + path + ": " + ErrnoText());
  }
  return Status::Ok();
}

class SoftKeyStore final : public KeyStore {
 public:
  explicit SoftKeyStore(const SoftUri& uri)
      : path_(uri.path), counter_path_(path_ + ".counter"), sign_delay_(uri.sign_delay_ms) {}

  std::string_view backend() const override { return "soft"; }
  bool insecure() const override { return true; }
  Capabilities capabilities() const override {
    Capabilities c;
    c.monotonic_counter = true;
    return c;
  }

  Result<Bytes> PublicKeyDer() override {
    std::lock_guard<std::mutex> lock(mu_);
    TESSERA_RETURN_IF_ERROR(LoadLocked());
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key_.get(), &der);
    if (len <= 0) return MakeHsmError(HsmError::kDevice, "cannot encode public key");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
  }

  Result<Signature> SignDigest(const Digest& digest) override {
    std::lock_guard<std::mutex> lock(mu_);
    TESSERA_RETURN_IF_ERROR(LoadLocked());
    // Simulated device time, under the lock: a device runs one command at a time.
    if (sign_delay_.count() > 0) std::this_thread::sleep_for(sign_delay_);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key_.get(), nullptr), &EVP_PKEY_CTX_free);
    unsigned char der[80];
    size_t der_len = sizeof(der);
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
        EVP_PKEY_sign(ctx.get(), der, &der_len, digest.data(), digest.size()) != 1) {
      return MakeHsmError(HsmError::kDevice, "OpenSSL signing failed");
    }
    return SignatureFromDer(std::span<const uint8_t>(der, der_len));
  }

  Status CreateKey(bool replace) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (FileExists(path_) && !replace) {
      return MakeHsmError(HsmError::kKeyExists, "key file " + path_ + " exists");
    }
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) return MakeHsmError(HsmError::kDevice, "P-256 key generation failed");
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
      return MakeHsmError(HsmError::kDevice, "cannot encode private key");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(path_, std::string(data, static_cast<size_t>(len))));
    key_ = std::move(key);
    return Status::Ok();
  }

  Status InitCounter() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (FileExists(counter_path_)) return Status::Ok();
    return WriteFileAtomic(counter_path_, "0\n");
  }

  Result<uint64_t> ReadCounter() override {
    std::lock_guard<std::mutex> lock(mu_);
    return ReadCounterLocked();
  }

  Result<uint64_t> IncrementCounter() override {
    std::lock_guard<std::mutex> lock(mu_);
    TESSERA_ASSIGN_OR_RETURN(uint64_t v, ReadCounterLocked());
    ++v;
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(counter_path_, std::to_string(v) + "\n"));
    return v;
  }

  Result<ClockTuple> ReadClock() override {
    return MakeHsmError(HsmError::kNotSupported, "the software key store has no trusted clock");
  }

 private:
  Status LoadLocked() {
    if (key_) return Status::Ok();
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path_.c_str(), "re"), &std::fclose);
    if (!f) return MakeHsmError(HsmError::kKeyNotFound, "no key file " + path_);
    PkeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
        EVP_PKEY_get_bits(key.get()) != 256) {
      return MakeHsmError(HsmError::kDevice, path_ + " is not a P-256 private key");
    }
    key_ = std::move(key);
    return Status::Ok();
  }

  Result<uint64_t> ReadCounterLocked() {
    std::ifstream in(counter_path_);
    if (!in) return MakeHsmError(HsmError::kCounterMissing, "no counter file " + counter_path_);
    uint64_t v = 0;
    if (!(in >> v)) return MakeHsmError(HsmError::kDevice, "corrupt counter file " + counter_path_);
    return v;
  }

  const std::string path_;
  const std::string counter_path_;
  const std::chrono::milliseconds sign_delay_;
  std::mutex mu_;
  PkeyPtr key_;  // guarded by mu_; loaded lazily
};

}  // namespace

std::unique_ptr<KeyStore> NewSoftKeyStore(const SoftUri& uri) {
  return std::make_unique<SoftKeyStore>(uri);
}

}  // namespace tessera::hsm
