#include "hsm/pkcs11/pkcs11_key_store.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/pkcs11/pkcs11_module.h"
#include "hsm/worker.h"

namespace tessera::hsm {
namespace {

// DER OID of prime256v1 (secp256r1), the CKA_EC_PARAMS of a P-256 key.
constexpr uint8_t kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr char kCounterApplication[] = "tessera-counter";

CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, const void* value, size_t size) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(size)};
}

std::string TrimLabel(const unsigned char* label, size_t size) {
  std::string s(reinterpret_cast<const char*>(label), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// CKA_EC_POINT is a DER OCTET STRING around the point in PKCS#11 v2.20+; some modules
// return the bare point.
Result<Bytes> UnwrapEcPoint(const Bytes& v) {
  if (v.size() == 65 && v[0] == 0x04) return v;
  if (v.size() == 67 && v[0] == 0x04 && v[1] == 65) return Bytes(v.begin() + 2, v.end());
  return MakeHsmError(HsmError::kDevice, "unexpected CKA_EC_POINT encoding");
}

class Pkcs11KeyStore final : public KeyStore {
 public:
  Pkcs11KeyStore(Pkcs11Uri uri, std::string pin, size_t queue_capacity)
      : uri_(std::move(uri)), pin_(std::move(pin)), worker_(queue_capacity) {
    if (uri_.id.empty()) {
      Digest d = Sha256(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(uri_.object.data()), uri_.object.size()));
      id_.assign(d.begin(), d.begin() + 16);
    } else {
      id_ = uri_.id;
    }
  }

  ~Pkcs11KeyStore() override {
    (void)worker_.RunStatus([this] {
      CloseSession();
      module_.reset();
      return Status::Ok();
    });
  }

  Status Open() {
    return worker_.RunStatus([this] { return EnsureSession(); });
  }

  std::string_view backend() const override { return "pkcs11"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.monotonic_counter = true;
    return c;
  }

  Result<Bytes> PublicKeyDer() override {
    return worker_.Run<Bytes>(
        [this] { return WithReopen<Bytes>([this] { return ReadPublic(); }); });
  }

  Result<Signature> SignDigest(const Digest& digest) override {
    return worker_.Run<Signature>(
        [this, digest] { return WithReopen<Signature>([&] { return SignOnWorker(digest); }); });
  }

  Status CreateKey(bool replace) override {
    return worker_.RunStatus([this, replace] {
      return WithReopen<bool>([&]() -> Result<bool> {
               TESSERA_RETURN_IF_ERROR(CreateOnWorker(replace));
               return true;
             })
          .status();
    });
  }

  Status InitCounter() override {
    return worker_.RunStatus([this] {
      return WithReopen<bool>([&]() -> Result<bool> {
               TESSERA_ASSIGN_OR_RETURN(auto obj, FindOne(CKO_DATA, CounterLabel()));
               if (obj) return true;
               TESSERA_RETURN_IF_ERROR(CreateCounter(0));
               return true;
             })
          .status();
    });
  }

  Result<uint64_t> ReadCounter() override {
    return worker_.Run<uint64_t>([this] {
      return WithReopen<uint64_t>([&]() -> Result<uint64_t> {
        TESSERA_ASSIGN_OR_RETURN(auto objects, Find(CKO_DATA, CounterLabel()));
        if (objects.empty()) return CounterMissing();
        return MaxCounterValue(objects);
      });
    });
  }

  // Tokens may refuse to modify CKA_VALUE (SoftHSM2 does), so an increment writes a new
  // object holding the next value and then destroys the older ones. A crash in between
  // leaves two objects; readers take the largest value, so the counter never goes back.
  Result<uint64_t> IncrementCounter() override {
    return worker_.Run<uint64_t>([this] {
      return WithReopen<uint64_t>([&]() -> Result<uint64_t> {
        TESSERA_ASSIGN_OR_RETURN(auto objects, Find(CKO_DATA, CounterLabel()));
        if (objects.empty()) return CounterMissing();
        TESSERA_ASSIGN_OR_RETURN(uint64_t v, MaxCounterValue(objects));
        ++v;
        TESSERA_RETURN_IF_ERROR(CreateCounter(v));
        for (CK_OBJECT_HANDLE old : objects) {
          TESSERA_RETURN_IF_ERROR(
              Call("C_DestroyObject(counter)", Api()->C_DestroyObject(session_, old)));
        }
        return v;
      });
    });
  }

  Result<ClockTuple> ReadClock() override {
    return MakeHsmError(HsmError::kNotSupported, "PKCS#11 tokens have no trusted clock");
  }

 private:
  // --- Everything below runs on the worker thread only. ---

  CK_FUNCTION_LIST_PTR Api() const { return module_->fn(); }
  std::string CounterLabel() const { return uri_.object + ".counter"; }

  // Maps a return value; marks the session for reopening when the module dropped it.
  Status Call(std::string_view what, CK_RV rv) {
    if (rv == CKR_OK) return Status::Ok();
    if (Pkcs11RvNeedsReopen(rv)) needs_reopen_ = true;
    return Pkcs11Error(what, rv);
  }

  // Runs `op`; when it failed because the session went away, reopens and tries once more.
  template <typename T, typename Op>
  Result<T> WithReopen(Op&& op) {
    TESSERA_RETURN_IF_ERROR(EnsureSession());
    Result<T> r = op();
    if (r.ok() || !needs_reopen_) return r;
    CloseSession();
    TESSERA_RETURN_IF_ERROR(EnsureSession());
    return op();
  }

  Status EnsureSession() {
    if (needs_reopen_) CloseSession();
    if (session_ != CK_INVALID_HANDLE) return Status::Ok();
    if (!module_) {
      TESSERA_ASSIGN_OR_RETURN(module_, Pkcs11Module::Load(uri_.module_path));
    }
    TESSERA_ASSIGN_OR_RETURN(CK_SLOT_ID slot, FindSlot());
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    TESSERA_RETURN_IF_ERROR(
        Call("C_OpenSession", Api()->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                   nullptr, nullptr, &session)));
    CK_RV rv = Api()->C_Login(session, CKU_USER,
                              reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin_.data())),
                              static_cast<CK_ULONG>(pin_.size()));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      Api()->C_CloseSession(session);
      needs_reopen_ = false;
      return Pkcs11Error("C_Login to token '" + uri_.token + "'", rv);
    }
    session_ = session;
    needs_reopen_ = false;
    return Status::Ok();
  }

  void CloseSession() {
    if (session_ != CK_INVALID_HANDLE && module_) (void)Api()->C_CloseSession(session_);
    session_ = CK_INVALID_HANDLE;
    key_ = CK_INVALID_HANDLE;
    needs_reopen_ = false;
  }

  Result<CK_SLOT_ID> FindSlot() {
    CK_ULONG count = 0;
    TESSERA_RETURN_IF_ERROR(Call("C_GetSlotList", Api()->C_GetSlotList(CK_TRUE, nullptr, &count)));
    std::vector<CK_SLOT_ID> slots(count);
    if (count > 0) {
      TESSERA_RETURN_IF_ERROR(
          Call("C_GetSlotList", Api()->C_GetSlotList(CK_TRUE, slots.data(), &count)));
      slots.resize(count);
    }
    for (CK_SLOT_ID slot : slots) {
      CK_TOKEN_INFO info{};
      if (Api()->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
      if (TrimLabel(info.label, sizeof(info.label)) == uri_.token) return slot;
    }
    return MakeHsmError(HsmError::kTokenNotFound, "no initialised token labelled '" + uri_.token +
                                                      "' in " + uri_.module_path);
  }

  Result<std::vector<CK_OBJECT_HANDLE>> Find(CK_OBJECT_CLASS cls, const std::string& label) {
    std::vector<CK_ATTRIBUTE> tmpl = {Attr(CKA_CLASS, &cls, sizeof(cls)),
                                      Attr(CKA_LABEL, label.data(), label.size())};
    if (cls != CKO_DATA) tmpl.push_back(Attr(CKA_ID, id_.data(), id_.size()));
    TESSERA_RETURN_IF_ERROR(
        Call("C_FindObjectsInit", Api()->C_FindObjectsInit(session_, tmpl.data(), tmpl.size())));
    std::vector<CK_OBJECT_HANDLE> found;
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG n = 0;
    CK_RV rv = CKR_OK;
    while ((rv = Api()->C_FindObjects(session_, batch, 16, &n)) == CKR_OK && n > 0) {
      found.insert(found.end(), batch, batch + n);
    }
    (void)Api()->C_FindObjectsFinal(session_);
    TESSERA_RETURN_IF_ERROR(Call("C_FindObjects", rv));
    return found;
  }

  Result<std::optional<CK_OBJECT_HANDLE>> FindOne(CK_OBJECT_CLASS cls, const std::string& label) {
    TESSERA_ASSIGN_OR_RETURN(auto found, Find(cls, label));
    if (found.empty()) return std::optional<CK_OBJECT_HANDLE>();
    return std::optional<CK_OBJECT_HANDLE>(found.front());
  }

  Result<Bytes> GetAttribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE attr = Attr(type, nullptr, 0);
    TESSERA_RETURN_IF_ERROR(
        Call("C_GetAttributeValue", Api()->C_GetAttributeValue(session_, obj, &attr, 1)));
    if (attr.ulValueLen > 4096) return MakeHsmError(HsmError::kDevice, "attribute too large");
    Bytes value(attr.ulValueLen);
    attr.pValue = value.data();
    TESSERA_RETURN_IF_ERROR(
        Call("C_GetAttributeValue", Api()->C_GetAttributeValue(session_, obj, &attr, 1)));
    value.resize(attr.ulValueLen);
    return value;
  }

  Result<Bytes> ReadPublic() {
    TESSERA_ASSIGN_OR_RETURN(auto pub, FindOne(CKO_PUBLIC_KEY, uri_.object));
    if (!pub) {
      return MakeHsmError(HsmError::kKeyNotFound,
                          "no key '" + uri_.object + "' on token '" + uri_.token + "'");
    }
    TESSERA_ASSIGN_OR_RETURN(Bytes raw, GetAttribute(*pub, CKA_EC_POINT));
    TESSERA_ASSIGN_OR_RETURN(Bytes point, UnwrapEcPoint(raw));
    return SpkiFromEcPoint(point);
  }

  Result<Signature> SignOnWorker(const Digest& digest) {
    if (key_ == CK_INVALID_HANDLE) {
      TESSERA_ASSIGN_OR_RETURN(auto priv, FindOne(CKO_PRIVATE_KEY, uri_.object));
      if (!priv) {
        return MakeHsmError(HsmError::kKeyNotFound,
                            "no key '" + uri_.object + "' on token '" + uri_.token + "'");
      }
      key_ = *priv;
    }
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    TESSERA_RETURN_IF_ERROR(Call("C_SignInit", Api()->C_SignInit(session_, &mech, key_)));
    CK_BYTE sig[132];
    CK_ULONG sig_len = sizeof(sig);
    TESSERA_RETURN_IF_ERROR(
        Call("C_Sign", Api()->C_Sign(session_, const_cast<CK_BYTE*>(digest.data()), digest.size(),
                                     sig, &sig_len)));
    if (sig_len != 64) return MakeHsmError(HsmError::kDevice, "ECDSA signature is not 64 bytes");
    Signature out{};
    std::copy(sig, sig + 64, out.begin());
    return out;
  }

  Status DestroyAll(CK_OBJECT_CLASS cls) {
    TESSERA_ASSIGN_OR_RETURN(auto found, Find(cls, uri_.object));
    for (CK_OBJECT_HANDLE h : found) {
      TESSERA_RETURN_IF_ERROR(Call("C_DestroyObject", Api()->C_DestroyObject(session_, h)));
    }
    return Status::Ok();
  }

  Status CreateOnWorker(bool replace) {
    TESSERA_ASSIGN_OR_RETURN(auto priv, Find(CKO_PRIVATE_KEY, uri_.object));
    TESSERA_ASSIGN_OR_RETURN(auto pub, Find(CKO_PUBLIC_KEY, uri_.object));
    if (!priv.empty() || !pub.empty()) {
      if (!replace) {
        return MakeHsmError(HsmError::kKeyExists,
                            "token '" + uri_.token + "' holds key '" + uri_.object + "' already");
      }
      TESSERA_RETURN_IF_ERROR(DestroyAll(CKO_PRIVATE_KEY));
      TESSERA_RETURN_IF_ERROR(DestroyAll(CKO_PUBLIC_KEY));
      key_ = CK_INVALID_HANDLE;
    }
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE pub_tmpl[] = {
        Attr(CKA_TOKEN, &yes, sizeof(yes)),
        Attr(CKA_VERIFY, &yes, sizeof(yes)),
        Attr(CKA_EC_PARAMS, kP256Params, sizeof(kP256Params)),
        Attr(CKA_LABEL, uri_.object.data(), uri_.object.size()),
        Attr(CKA_ID, id_.data(), id_.size()),
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        Attr(CKA_TOKEN, &yes, sizeof(yes)),
        Attr(CKA_PRIVATE, &yes, sizeof(yes)),
        Attr(CKA_SENSITIVE, &yes, sizeof(yes)),
        Attr(CKA_EXTRACTABLE, &no, sizeof(no)),
        Attr(CKA_SIGN, &yes, sizeof(yes)),
        Attr(CKA_LABEL, uri_.object.data(), uri_.object.size()),
        Attr(CKA_ID, id_.data(), id_.size()),
    };
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE priv_h = CK_INVALID_HANDLE;
    TESSERA_RETURN_IF_ERROR(
        Call("C_GenerateKeyPair",
             Api()->C_GenerateKeyPair(session_, &mech, pub_tmpl, std::size(pub_tmpl), priv_tmpl,
                                      std::size(priv_tmpl), &pub_h, &priv_h)));
    key_ = priv_h;
    return Status::Ok();
  }

  Status CounterMissing() const {
    return MakeHsmError(HsmError::kCounterMissing,
                        "no counter object '" + CounterLabel() + "' on token '" + uri_.token + "'");
  }

  Result<uint64_t> MaxCounterValue(const std::vector<CK_OBJECT_HANDLE>& objects) {
    uint64_t max = 0;
    for (CK_OBJECT_HANDLE obj : objects) {
      TESSERA_ASSIGN_OR_RETURN(uint64_t v, ReadCounterValue(obj));
      max = std::max(max, v);
    }
    return max;
  }

  Result<uint64_t> ReadCounterValue(CK_OBJECT_HANDLE obj) {
    TESSERA_ASSIGN_OR_RETURN(Bytes v, GetAttribute(obj, CKA_VALUE));
    if (v.size() != 8) return MakeHsmError(HsmError::kDevice, "counter object is not 8 bytes");
    uint64_t out = 0;
    for (uint8_t b : v) out = (out << 8) | b;
    return out;
  }

  Status CreateCounter(uint64_t value) {
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
    std::string label = CounterLabel();
    CK_ATTRIBUTE tmpl[] = {
        Attr(CKA_CLASS, &cls, sizeof(cls)),
        Attr(CKA_TOKEN, &yes, sizeof(yes)),
        Attr(CKA_PRIVATE, &yes, sizeof(yes)),
        Attr(CKA_MODIFIABLE, &yes, sizeof(yes)),
        Attr(CKA_LABEL, label.data(), label.size()),
        Attr(CKA_APPLICATION, kCounterApplication, sizeof(kCounterApplication) - 1),
        Attr(CKA_VALUE, be, sizeof(be)),
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    return Call("C_CreateObject(counter)",
                Api()->C_CreateObject(session_, tmpl, std::size(tmpl), &h));
  }

  const Pkcs11Uri uri_;
  const std::string pin_;
  Bytes id_;
  std::shared_ptr<Pkcs11Module> module_;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
  bool needs_reopen_ = false;
  mutable Worker worker_;  // last: joined before the members above are destroyed
};

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenPkcs11KeyStore(const Pkcs11Uri& uri,
                                                     const OpenOptions& options) {
  TESSERA_ASSIGN_OR_RETURN(std::string pin, ReadPin(uri.pin));
  auto store = std::make_unique<Pkcs11KeyStore>(uri, std::move(pin), options.queue_capacity);
  TESSERA_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<KeyStore>(std::move(store));
}

}  // namespace tessera::hsm
