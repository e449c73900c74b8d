#include "hsm/tpm/tpm_key_store.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/tpm/tpm_policy.h"
#include "hsm/tpm/tpm_rc.h"
#include "hsm/worker.h"

namespace tessera::hsm {
namespace {

constexpr int kMaxAttempts = 20;

// Frees memory ESAPI hands back.
template <typename T>
struct EsysPtr {
  T* p = nullptr;
  EsysPtr() = default;
  EsysPtr(const EsysPtr&) = delete;
  EsysPtr& operator=(const EsysPtr&) = delete;
  ~EsysPtr() { Esys_Free(p); }
  T** Out() { return &p; }
  T* operator->() const { return p; }
};

// The storage root key: the TCG provisioning guidance's ECC P-256 SRK template, so the
// same primary key is derived every time from the owner hierarchy's seed.
TPM2B_PUBLIC SrkTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                  TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  TPMA_OBJECT_NODA;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// With a policy digest the key is usable only through that policy (no userWithAuth).
TPM2B_PUBLIC IdentityKeyTemplate(const TPM2B_DIGEST* policy) {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT |
                                  TPMA_OBJECT_NODA;
  if (policy != nullptr) {
    t.publicArea.authPolicy = *policy;
  } else {
    t.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
  }
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

class TpmKeyStore final : public KeyStore {
 public:
  TpmKeyStore(TpmUri uri, size_t queue_capacity) : uri_(std::move(uri)), worker_(queue_capacity) {}

  ~TpmKeyStore() override {
    (void)worker_.RunStatus([this] {
      Disconnect(/*orderly=*/true);
      return Status::Ok();
    });
  }

  Status Connect() {
    return worker_.RunStatus([this] { return EnsureConnected(); });
  }

  std::string_view backend() const override { return "tpm"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.monotonic_counter = true;
    c.hardware_counter = true;
    c.trusted_clock = true;
    c.pcr_policy = true;
    return c;
  }

  Result<Bytes> PublicKeyDer() override {
    return worker_.Run<Bytes>([this]() -> Result<Bytes> {
      TESSERA_RETURN_IF_ERROR(EnsureKey());
      return spki_;
    });
  }

  Result<Signature> SignDigest(const Digest& digest) override {
    return worker_.Run<Signature>([this, digest] { return SignOnWorker(digest); });
  }

  Status CreateKey(bool replace) override {
    return worker_.RunStatus([this, replace] { return CreateOnWorker(replace); });
  }

  Status InitCounter() override {
    return worker_.RunStatus([this] { return InitCounterOnWorker(); });
  }

  Result<uint64_t> ReadCounter() override {
    return worker_.Run<uint64_t>([this] { return ReadCounterOnWorker(); });
  }

  Result<uint64_t> IncrementCounter() override {
    return worker_.Run<uint64_t>([this]() -> Result<uint64_t> {
      TESSERA_ASSIGN_OR_RETURN(ESYS_TR nv, CounterHandle());
      TESSERA_RETURN_IF_ERROR(Check("NV_Increment", [&] {
        return Esys_NV_Increment(esys_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
      }));
      return ReadCounterOnWorker();
    });
  }

  Result<ClockTuple> ReadClock() override {
    return worker_.Run<ClockTuple>([this]() -> Result<ClockTuple> {
      TESSERA_RETURN_IF_ERROR(EnsureConnected());
      EsysPtr<TPMS_TIME_INFO> info;
      TESSERA_RETURN_IF_ERROR(Check("ReadClock", [&] {
        return Esys_ReadClock(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, info.Out());
      }));
      ClockTuple t;
      t.clock_ms = info->clockInfo.clock;
      t.reset_count = info->clockInfo.resetCount;
      t.restart_count = info->clockInfo.restartCount;
      t.safe = info->clockInfo.safe == TPM2_YES;
      return t;
    });
  }

 private:
  // --- Everything below runs on the worker thread only. ---

  Status EnsureConnected() {
    if (esys_ != nullptr) return Status::Ok();
    TSS2_RC rc = Tss2_TctiLdr_Initialize(uri_.tcti.c_str(), &tcti_);
    if (rc != TSS2_RC_SUCCESS) {
      tcti_ = nullptr;
      return MakeHsmError(HsmError::kDeviceGone, "cannot open TPM TCTI '" + uri_.tcti +
                                                     "': " + TpmError("", rc).message());
    }
    rc = Esys_Initialize(&esys_, tcti_, nullptr);
    if (rc != TSS2_RC_SUCCESS) {
      esys_ = nullptr;
      Tss2_TctiLdr_Finalize(&tcti_);
      return TpmError("Esys_Initialize", rc);
    }
    return Status::Ok();
  }

  void Disconnect(bool orderly) {
    if (esys_ != nullptr) {
      if (orderly)
        (void)Esys_Shutdown(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR);
      Esys_Finalize(&esys_);
    }
    if (tcti_ != nullptr) Tss2_TctiLdr_Finalize(&tcti_);
    esys_ = nullptr;
    tcti_ = nullptr;
    key_ = ESYS_TR_NONE;
    counter_ = ESYS_TR_NONE;
    spki_.clear();
  }

  // Runs an ESAPI call, retrying transient TPM warnings with a short backoff.
  template <typename Fn>
  static TSS2_RC CallWithRetry(Fn&& fn) {
    TSS2_RC rc = TSS2_RC_SUCCESS;
    for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
      rc = fn();
      if (!TpmRcIsTransient(rc)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
    }
    return rc;
  }

  // Turns a response code into a Status; a lost connection is torn down so that the next
  // request reconnects.
  Status Finish(std::string_view what, TSS2_RC rc) {
    if (rc == TSS2_RC_SUCCESS) return Status::Ok();
    if (TpmRcIsConnectionLoss(rc)) Disconnect(/*orderly=*/false);
    return TpmError(what, rc);
  }

  template <typename Fn>
  Status Check(std::string_view what, Fn&& fn) {
    return Finish(what, CallWithRetry(std::forward<Fn>(fn)));
  }

  // Looks a persistent object or NV index up. nullopt when the TPM has no such handle.
  Result<std::optional<ESYS_TR>> FromTpmHandle(TPM2_HANDLE handle) {
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = CallWithRetry([&] {
      return Esys_TR_FromTPMPublic(esys_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
    });
    if (rc == TSS2_RC_SUCCESS) return std::optional<ESYS_TR>(tr);
    if (TpmBaseRc(rc) == TPM2_RC_HANDLE) return std::optional<ESYS_TR>();
    return Finish("TR_FromTPMPublic", rc);
  }

  static std::string Hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%08x", v);
    return buf;
  }

  void ForgetKey() {
    if (key_ != ESYS_TR_NONE && esys_ != nullptr) (void)Esys_TR_Close(esys_, &key_);
    key_ = ESYS_TR_NONE;
    spki_.clear();
  }

  Status EnsureKey() {
    TESSERA_RETURN_IF_ERROR(EnsureConnected());
    if (key_ != ESYS_TR_NONE) return Status::Ok();
    TESSERA_ASSIGN_OR_RETURN(auto tr, FromTpmHandle(uri_.key_handle));
    if (!tr) {
      return MakeHsmError(HsmError::kKeyNotFound,
                          "no identity key at TPM handle " + Hex(uri_.key_handle));
    }
    EsysPtr<TPM2B_PUBLIC> pub;
    TESSERA_RETURN_IF_ERROR(Check("ReadPublic", [&] {
      return Esys_ReadPublic(esys_, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pub.Out(),
                             nullptr, nullptr);
    }));
    const TPMT_PUBLIC& area = pub->publicArea;
    if (area.type != TPM2_ALG_ECC || area.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
        (area.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0 ||
        (area.objectAttributes & TPMA_OBJECT_RESTRICTED) != 0) {
      (void)Esys_TR_Close(esys_, &*tr);
      return MakeHsmError(HsmError::kKeyNotFound, "the object at TPM handle " +
                                                      Hex(uri_.key_handle) +
                                                      " is not an unrestricted P-256 signing key");
    }
    if ((area.objectAttributes & TPMA_OBJECT_USERWITHAUTH) == 0 && uri_.pcrs.empty()) {
      (void)Esys_TR_Close(esys_, &*tr);
      return MakeHsmError(HsmError::kPolicyMismatch,
                          "the key at TPM handle " + Hex(uri_.key_handle) +
                              " is bound to a PCR policy; the key URI must name its pcrs=");
    }
    const auto& point = area.unique.ecc;
    TESSERA_ASSIGN_OR_RETURN(spki_,
                             SpkiFromXY(std::span<const uint8_t>(point.x.buffer, point.x.size),
                                        std::span<const uint8_t>(point.y.buffer, point.y.size)));
    key_ = *tr;
    return Status::Ok();
  }

  Result<Signature> SignOnWorker(const Digest& digest) {
    TESSERA_RETURN_IF_ERROR(EnsureKey());
    TPM2B_DIGEST in{};
    in.size = static_cast<UINT16>(digest.size());
    std::copy(digest.begin(), digest.end(), in.buffer);
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPMT_TK_HASHCHECK validation{};
    validation.tag = TPM2_ST_HASHCHECK;
    validation.hierarchy = TPM2_RH_NULL;
    ESYS_TR auth = ESYS_TR_PASSWORD;
    ESYS_TR session = ESYS_TR_NONE;
    if (!uri_.pcrs.empty()) {
      TPML_PCR_SELECTION sel = Sha256PcrSelection(uri_.pcrs);
      TESSERA_RETURN_IF_ERROR(Check("PolicyPCR", [&] {
        return StartPcrPolicySession(esys_, TPM2_SE_POLICY, sel, &session);
      }));
      auth = session;
    }
    EsysPtr<TPMT_SIGNATURE> sig;
    Status signed_ok = Check("Sign", [&] {
      return Esys_Sign(esys_, key_, auth, ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme, &validation,
                       sig.Out());
    });
    // Policy sessions take a TPM session slot: never leave one behind.
    if (session != ESYS_TR_NONE && esys_ != nullptr) (void)Esys_FlushContext(esys_, session);
    TESSERA_RETURN_IF_ERROR(signed_ok);
    if (sig->sigAlg != TPM2_ALG_ECDSA) {
      return MakeHsmError(HsmError::kDevice, "TPM returned a non-ECDSA signature");
    }
    const auto& ecdsa = sig->signature.ecdsa;
    return SignatureFromRS(
        std::span<const uint8_t>(ecdsa.signatureR.buffer, ecdsa.signatureR.size),
        std::span<const uint8_t>(ecdsa.signatureS.buffer, ecdsa.signatureS.size));
  }

  Status CreateOnWorker(bool replace) {
    TESSERA_RETURN_IF_ERROR(EnsureConnected());
    // ESAPI refuses a second handle object for the same TPM handle with a different name,
    // so the cached one is dropped before the key is looked up, replaced or created.
    ForgetKey();
    TESSERA_ASSIGN_OR_RETURN(auto existing, FromTpmHandle(uri_.key_handle));
    if (existing) {
      if (!replace) {
        (void)Esys_TR_Close(esys_, &*existing);
        return MakeHsmError(HsmError::kKeyExists,
                            "TPM handle " + Hex(uri_.key_handle) + " holds a key already");
      }
      ESYS_TR none = ESYS_TR_NONE;
      Status removed = Check("EvictControl(remove)", [&] {
        return Esys_EvictControl(esys_, ESYS_TR_RH_OWNER, *existing, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, uri_.key_handle, &none);
      });
      if (esys_ != nullptr) (void)Esys_TR_Close(esys_, &*existing);
      TESSERA_RETURN_IF_ERROR(removed);
    }
    return CreateAndPersist();
  }

  // CreatePrimary -> Create -> Load -> EvictControl; both transient objects are flushed
  // whatever happens (a simulator without a resource manager has only 3 slots).
  Status CreateAndPersist() {
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PUBLIC srk = SrkTemplate();
    ESYS_TR primary = ESYS_TR_NONE;
    TESSERA_RETURN_IF_ERROR(Check("CreatePrimary", [&] {
      return Esys_CreatePrimary(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                ESYS_TR_NONE, &sensitive, &srk, &outside, &pcrs, &primary, nullptr,
                                nullptr, nullptr, nullptr);
    }));
    Status st = CreateUnder(primary);
    if (esys_ != nullptr) (void)Esys_FlushContext(esys_, primary);
    return st;
  }

  Status CreateUnder(ESYS_TR primary) {
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_DIGEST policy{};
    if (!uri_.pcrs.empty()) {
      TPML_PCR_SELECTION sel = Sha256PcrSelection(uri_.pcrs);
      TESSERA_RETURN_IF_ERROR(
          Check("PolicyPCR(trial)", [&] { return PcrPolicyDigest(esys_, sel, &policy); }));
    }
    TPM2B_PUBLIC tmpl = IdentityKeyTemplate(uri_.pcrs.empty() ? nullptr : &policy);
    EsysPtr<TPM2B_PRIVATE> priv;
    EsysPtr<TPM2B_PUBLIC> pub;
    TESSERA_RETURN_IF_ERROR(Check("Create", [&] {
      return Esys_Create(esys_, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                         &tmpl, &outside, &pcrs, priv.Out(), pub.Out(), nullptr, nullptr, nullptr);
    }));
    ESYS_TR loaded = ESYS_TR_NONE;
    TESSERA_RETURN_IF_ERROR(Check("Load", [&] {
      return Esys_Load(esys_, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv.p, pub.p,
                       &loaded);
    }));
    ESYS_TR persistent = ESYS_TR_NONE;
    Status st = Check("EvictControl(persist)", [&] {
      return Esys_EvictControl(esys_, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, uri_.key_handle, &persistent);
    });
    if (esys_ != nullptr) (void)Esys_FlushContext(esys_, loaded);
    TESSERA_RETURN_IF_ERROR(st);
    (void)Esys_TR_Close(esys_, &persistent);
    return EnsureKey();
  }

  // The counter's ESYS handle. Errors: hsm.counter_missing when the index is not defined.
  Result<ESYS_TR> CounterHandle() {
    TESSERA_RETURN_IF_ERROR(EnsureConnected());
    if (counter_ != ESYS_TR_NONE) return counter_;
    TESSERA_ASSIGN_OR_RETURN(auto tr, FromTpmHandle(uri_.counter_index));
    if (!tr) {
      return MakeHsmError(HsmError::kCounterMissing,
                          "no NV counter at index " + Hex(uri_.counter_index));
    }
    Status is_counter = CheckIsCounter(*tr);
    if (!is_counter.ok()) {
      if (esys_ != nullptr) (void)Esys_TR_Close(esys_, &*tr);
      return is_counter;
    }
    counter_ = *tr;
    return counter_;
  }

  // An ordinary NV index can be rewritten with any value, so it must never pass for the
  // monotonic counter.
  Status CheckIsCounter(ESYS_TR nv) {
    EsysPtr<TPM2B_NV_PUBLIC> pub;
    TESSERA_RETURN_IF_ERROR(Check("NV_ReadPublic", [&] {
      return Esys_NV_ReadPublic(esys_, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pub.Out(),
                                nullptr);
    }));
    TPMA_NV type = (pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT;
    if (type != TPM2_NT_COUNTER || pub->nvPublic.dataSize != 8) {
      return MakeHsmError(HsmError::kDevice, "NV index " + Hex(uri_.counter_index) +
                                                 " exists but is not a 64-bit counter index");
    }
    return Status::Ok();
  }

  Status InitCounterOnWorker() {
    Result<ESYS_TR> existing = CounterHandle();
    if (existing.ok()) {
      Result<uint64_t> v = ReadCounterOnWorker();
      if (v.ok() || HsmErrorOf(v.status()) != HsmError::kCounterMissing) return v.status();
    } else if (HsmErrorOf(existing.status()) != HsmError::kCounterMissing) {
      return existing.status();
    } else {
      TPM2B_AUTH auth{};
      TPM2B_NV_PUBLIC info{};
      info.nvPublic.nvIndex = uri_.counter_index;
      info.nvPublic.nameAlg = TPM2_ALG_SHA256;
      info.nvPublic.attributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                                 TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
      info.nvPublic.dataSize = 8;
      ESYS_TR nv = ESYS_TR_NONE;
      TESSERA_RETURN_IF_ERROR(Check("NV_DefineSpace", [&] {
        return Esys_NV_DefineSpace(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &auth, &info, &nv);
      }));
      counter_ = nv;
    }
    // A counter index cannot be read before its first increment.
    return Check("NV_Increment", [&] {
      return Esys_NV_Increment(esys_, counter_, counter_, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE);
    });
  }

  Result<uint64_t> ReadCounterOnWorker() {
    TESSERA_ASSIGN_OR_RETURN(ESYS_TR nv, CounterHandle());
    EsysPtr<TPM2B_MAX_NV_BUFFER> data;
    TSS2_RC rc = CallWithRetry([&] {
      return Esys_NV_Read(esys_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0,
                          data.Out());
    });
    if (TpmBaseRc(rc) == TPM2_RC_NV_UNINITIALIZED) {
      return MakeHsmError(HsmError::kCounterMissing, "NV counter was never incremented");
    }
    TESSERA_RETURN_IF_ERROR(Finish("NV_Read", rc));
    if (data->size != 8) return MakeHsmError(HsmError::kDevice, "NV counter is not 8 bytes");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | data->buffer[i];
    return v;
  }

  const TpmUri uri_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR key_ = ESYS_TR_NONE;      // the persistent identity key, once looked up
  ESYS_TR counter_ = ESYS_TR_NONE;  // the NV counter, once looked up
  Bytes spki_;
  mutable Worker worker_;  // last: joined before the members above are destroyed
};

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenTpmKeyStore(const TpmUri& uri, const OpenOptions& options) {
  auto store = std::make_unique<TpmKeyStore>(uri, options.queue_capacity);
  TESSERA_RETURN_IF_ERROR(store->Connect());
  return std::unique_ptr<KeyStore>(std::move(store));
}

}  // namespace tessera::hsm
