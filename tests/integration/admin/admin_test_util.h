// Helpers for the `tessera audit` tests: run the real binaries with stdout and stderr kept
// apart, keys (in memory or soft: key stores), and audit chains sealed with them.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "hsm/key_store.h"
#include "protocol/audit/block.h"
#include "protocol/audit/envelope.h"

namespace tessera::admin::testing {

namespace v1 = ::tessera::v1;

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) to completion; stdout and stderr are captured through files
// in `scratch_dir`. No stdin.
ToolResult RunTool(const std::vector<std::string>& argv, const std::filesystem::path& scratch_dir);

void WriteBytes(const std::filesystem::path& path, const std::string& data);
std::string ReadBytes(const std::filesystem::path& path);

// A P-256 key in a soft: key store file: signs blocks and certificates and can be named by
// `--key-uri soft:FILE`.
class SoftKey {
 public:
  explicit SoftKey(const std::filesystem::path& file);
  std::string uri() const { return "soft:" + file_.string(); }
  const Bytes& spki() const { return spki_; }
  std::string id() const;
  audit::SignFn signer() { return audit::SignerFn(*store_); }
  hsm::KeyStore& store() { return *store_; }

 private:
  std::filesystem::path file_;
  std::unique_ptr<hsm::KeyStore> store_;
  Bytes spki_;
};

// A certificate for `appliance` signed by `vendor`, valid for a year from 2026-01-01.
v1::SignedEnvelope Certify(SoftKey& vendor, const Bytes& appliance_spki);

// Seals blocks one after another, as an appliance does.
class ChainBuilder {
 public:
  explicit ChainBuilder(SoftKey& key) : key_(key) {}

  // Seals one block of `events` (serialized AuditEvents) with `counter`.
  v1::AuditBlock Seal(const std::vector<std::string>& events, uint64_t counter = 3);
  // Seals `n` blocks of `per_block` denial events each.
  std::vector<v1::AuditBlock> SealMany(int n, int per_block);
  // Forgets the counter so the next block may carry a lower one (a rollback).
  void ForgetCounter() { tip_.counter = 0; }

 private:
  SoftKey& key_;
  audit::ChainTip tip_ = audit::ChainTip::Genesis();
  int events_ = 0;
};

// A serialized event of each common kind.
std::string Grant(const std::string& appliance_id, const std::string& lease_id,
                  const std::string& user);
std::string Denial(const std::string& appliance_id, int n);

// An export of `blocks` starting at the first block's sequence, linked to `previous_hash`
// (32 zero bytes when empty).
v1::AuditExport MakeExport(const std::vector<v1::AuditBlock>& blocks,
                           const v1::SignedEnvelope* certificate,
                           const std::string& previous_hash = "");

}  // namespace tessera::admin::testing
