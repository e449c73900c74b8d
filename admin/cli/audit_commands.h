// `tessera audit verify|show|export`: offline checks and views of the appliance's audit chain
// (docs/ADMIN.md; formats and checks in docs/AUDIT.md).
//
// Each returns the process exit code: kExitOk, kExitVerifyFailed (the first bad block or the
// certificate fault is printed on `out`, or on `err` for `show`), or kExitUsage (bad usage,
// an unreadable file, database or key store; one "tessera: audit ...: error" line on `err`).
// Thread safety: call from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "admin/cli/audit_trust.h"

namespace tessera::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitVerifyFailed = 1;
inline constexpr int kExitUsage = 2;

// Blocks per read: memory holds one page (plus one block) whatever the database's size.
inline constexpr size_t kDefaultPageSize = 1000;

// Exactly one of the two.
struct AuditInput {
  std::string db_path;      // tesserad's database, read-only
  std::string export_path;  // an AuditExport file
};

struct AuditVerifyOptions {
  AuditInput input;
  TrustFlags trust;
  uint64_t from = 0;  // > 0: verify from this block on, linked to block from - 1
  size_t page_size = kDefaultPageSize;
};

// Verifies every signature, link, sequence, counter and Merkle root; prints
// "OK: N block(s), M event(s), sequence A..B" or "FAILED: block S (position P): audit.<tag>:
// ...".
int RunAuditVerify(const AuditVerifyOptions& options, std::ostream& out, std::ostream& err);

struct AuditShowOptions {
  AuditInput input;
  uint64_t from = 0;              // first block shown
  std::optional<uint64_t> limit;  // events shown at most
  bool json = false;              // one JSON object per line
  bool verify = false;            // show only blocks that verify (needs a trust option)
  TrustFlags trust;
  size_t page_size = kDefaultPageSize;
};

// Prints events, one per line. Without `verify` nothing is checked.
int RunAuditShow(const AuditShowOptions& options, std::ostream& out, std::ostream& err);

struct AuditExportOptions {
  std::string db_path;
  std::string out_path;
  uint64_t from = 0;
  std::optional<uint64_t> limit;  // blocks at most
  std::string certificate;        // certificate file; else the one stored in the database
  size_t page_size = kDefaultPageSize;
  // The appliance's key store: the export advances its monotonic counter and records the
  // value in the database first (docs/TRUST.md). Empty: no advance (a warning).
  std::string key_uri;
  bool insecure_dev_keys = false;  // allow a soft: key_uri
};

// Writes blocks from `from` on as an AuditExport (previous_hash of block from - 1, the
// certificate when known), atomically: the file appears complete or not at all. With a
// key_uri the counter advances first; a database the counter shows to be an older copy is
// refused (exit 1) and nothing is written.
int RunAuditExport(const AuditExportOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tessera::cli
