// A dlopen'ed PKCS#11 module, initialised once per process and shared.
//
// Thread safety: Load may be called from any thread; the function list is immutable.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tessera::hsm {

class Pkcs11Module {
 public:
  // Returns the process-wide instance for `path`, loading and C_Initialize'ing it on first
  // use; C_Finalize runs when the last reference goes. The library stays mapped.
  // Errors: hsm.module_load.
  static Result<std::shared_ptr<Pkcs11Module>> Load(const std::string& path);

  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST_PTR fn() const { return fn_; }
  const std::string& path() const { return path_; }

 private:
  Pkcs11Module(std::string path, CK_FUNCTION_LIST_PTR fn, bool finalize)
      : path_(std::move(path)), fn_(fn), finalize_(finalize) {}

  const std::string path_;
  CK_FUNCTION_LIST_PTR fn_;
  const bool finalize_;  // false when someone else in the process initialised the module
};

// "CKR_PIN_INCORRECT" and friends, for messages.
std::string Pkcs11RvName(CK_RV rv);

// Maps a failed call; `what` names the operation.
Status Pkcs11Error(std::string_view what, CK_RV rv);

// True for return values after which the session must be reopened.
bool Pkcs11RvNeedsReopen(CK_RV rv);

}  // namespace tessera::hsm
