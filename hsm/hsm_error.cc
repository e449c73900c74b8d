#include "hsm/hsm_error.h"

#include <array>
#include <utility>

namespace tessera::hsm {
namespace {

struct ErrorInfo {
  HsmError error;
  std::string_view tag;
  StatusCode code;
};

constexpr std::array<ErrorInfo, 16> kErrors = {{
    {HsmError::kKeyNotFound, "hsm.key_not_found", StatusCode::kNotFound},
    {HsmError::kTokenNotFound, "hsm.token_not_found", StatusCode::kNotFound},
    {HsmError::kModuleLoad, "hsm.module_load", StatusCode::kFailedPrecondition},
    {HsmError::kWrongPin, "hsm.wrong_pin", StatusCode::kPermissionDenied},
    {HsmError::kPinLocked, "hsm.pin_locked", StatusCode::kPermissionDenied},
    {HsmError::kLockout, "hsm.lockout", StatusCode::kFailedPrecondition},
    {HsmError::kPolicyMismatch, "hsm.policy_mismatch", StatusCode::kFailedPrecondition},
    {HsmError::kDeviceGone, "hsm.device_gone", StatusCode::kUnavailable},
    {HsmError::kBusy, "hsm.busy", StatusCode::kResourceExhausted},
    {HsmError::kKeyExists, "hsm.key_exists", StatusCode::kAlreadyExists},
    {HsmError::kCounterMissing, "hsm.counter_missing", StatusCode::kFailedPrecondition},
    {HsmError::kBadUri, "hsm.bad_uri", StatusCode::kInvalidArgument},
    {HsmError::kInsecureRefused, "hsm.insecure_refused", StatusCode::kFailedPrecondition},
    {HsmError::kCompiledOut, "hsm.compiled_out", StatusCode::kUnimplemented},
    {HsmError::kNotSupported, "hsm.not_supported", StatusCode::kUnimplemented},
    {HsmError::kDevice, "hsm.device_error", StatusCode::kInternal},
}};

const ErrorInfo& Info(HsmError e) {
  for (const auto& info : kErrors) {
    if (info.error == e) return info;
  }
  return kErrors.back();
}

}  // namespace

std::string_view HsmErrorTag(HsmError e) { return Info(e).tag; }

Status MakeHsmError(HsmError e, std::string_view detail) {
  const ErrorInfo& info = Info(e);
  std::string message(info.tag);
  message += ": ";
  message += detail;
  return {info.code, std::move(message)};
}

std::optional<HsmError> HsmErrorOf(const Status& s) {
  if (s.ok()) return std::nullopt;
  std::string_view m = s.message();
  for (const auto& info : kErrors) {
    // The tag may follow context added by Status::Annotate.
    if (info.code == s.code() && m.find(std::string(info.tag) + ":") != std::string_view::npos) {
      return info.error;
    }
  }
  return std::nullopt;
}

}  // namespace tessera::hsm
