#include "hsm/pkcs11/pkcs11_module.h"

#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::weak_ptr<Pkcs11Module>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<Pkcs11Module>>();
  return *registry;
}

}  // namespace

Result<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Load(const std::string& path) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (auto existing = Registry()[path].lock()) return existing;

  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();  // NOLINT(concurrency-mt-unsafe): per-thread in glibc
    return MakeHsmError(HsmError::kModuleLoad, "cannot load PKCS#11 module " + path + ": " +
                                                   (why != nullptr ? why : "unknown error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR fn = nullptr;
  if (get_list == nullptr || get_list(&fn) != CKR_OK || fn == nullptr) {
    ::dlclose(handle);
    return MakeHsmError(HsmError::kModuleLoad, path + " is not a PKCS#11 module");
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return MakeHsmError(HsmError::kModuleLoad,
                        "C_Initialize of " + path + " failed: " + Pkcs11RvName(rv));
  }
  // The library stays mapped: unloading some modules (and their OpenSSL) is unsafe.
  std::shared_ptr<Pkcs11Module> module(new Pkcs11Module(path, fn, /*finalize=*/rv == CKR_OK));
  Registry()[path] = module;
  return module;
}

Pkcs11Module::~Pkcs11Module() {
  // Under the registry lock so that a concurrent Load cannot see the module half-finalised.
  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (finalize_) fn_->C_Finalize(nullptr);
}

std::string Pkcs11RvName(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED:
      return "CKR_PIN_LOCKED";
    case CKR_PIN_INVALID:
      return "CKR_PIN_INVALID";
    case CKR_PIN_LEN_RANGE:
      return "CKR_PIN_LEN_RANGE";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_CLOSED:
      return "CKR_SESSION_CLOSED";
    case CKR_DEVICE_REMOVED:
      return "CKR_DEVICE_REMOVED";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_ATTRIBUTE_TYPE_INVALID:
      return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_TEMPLATE_INCONSISTENT:
      return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_GENERAL_ERROR:
      return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
      return "CKR_FUNCTION_FAILED";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "CKR 0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

bool Pkcs11RvNeedsReopen(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
         rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN ||
         rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

Status Pkcs11Error(std::string_view what, CK_RV rv) {
  std::string detail = std::string(what) + ": " + Pkcs11RvName(rv);
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      return MakeHsmError(HsmError::kWrongPin, detail);
    case CKR_PIN_LOCKED:
      return MakeHsmError(HsmError::kPinLocked, detail);
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
      return MakeHsmError(HsmError::kDeviceGone, detail);
    default:
      return MakeHsmError(HsmError::kDevice, detail);
  }
}

}  // namespace tessera::hsm
