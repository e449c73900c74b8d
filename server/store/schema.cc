#include "server/store/schema.h"

namespace tessera::store {

namespace {

// Times are Unix-epoch milliseconds (UTC); durations are milliseconds; booleans are 0/1;
// uint64 values are stored bit-for-bit in SQLite's signed 64-bit INTEGER.
constexpr const char* kV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('next_lease_id', 1);

CREATE TABLE entitlements (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  content      BLOB NOT NULL,
  loaded_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE rules (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  content      BLOB NOT NULL,
  loaded_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
  id                    INTEGER PRIMARY KEY CHECK (id > 0),
  feature               TEXT NOT NULL,
  version               TEXT NOT NULL,
  count                 INTEGER NOT NULL,
  client_id             TEXT NOT NULL,
  user                  TEXT NOT NULL,
  host                  TEXT NOT NULL,
  nonce                 BLOB NOT NULL,
  issued_at_ms          INTEGER NOT NULL,
  expires_at_ms         INTEGER NOT NULL,
  heartbeat_interval_ms INTEGER NOT NULL,
  borrowed              INTEGER NOT NULL,
  overdraft             INTEGER NOT NULL,
  in_grace              INTEGER NOT NULL,
  tokens                INTEGER NOT NULL,
  metered_units         INTEGER NOT NULL,
  lingering             INTEGER NOT NULL
) STRICT;

CREATE TABLE named_user_bindings (
  feature       TEXT NOT NULL,
  user          TEXT NOT NULL,
  position      INTEGER NOT NULL,
  host          TEXT NOT NULL,
  bound_at_ms   INTEGER NOT NULL,
  held_until_ms INTEGER NOT NULL,
  overdraft     INTEGER NOT NULL,
  PRIMARY KEY (feature, user)
) STRICT;

CREATE TABLE metered_counters (
  feature  TEXT PRIMARY KEY,
  consumed INTEGER NOT NULL
) STRICT;

CREATE TABLE batches (
  batch  INTEGER PRIMARY KEY,
  units  INTEGER NOT NULL,
  events INTEGER NOT NULL
) STRICT;

CREATE TABLE events (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  batch             INTEGER NOT NULL REFERENCES batches (batch),
  kind              TEXT NOT NULL,
  at_ms             INTEGER NOT NULL,
  lease_id          INTEGER NOT NULL,
  ticket            INTEGER NOT NULL,
  feature           TEXT NOT NULL,
  client_id         TEXT NOT NULL,
  user              TEXT NOT NULL,
  host              TEXT NOT NULL,
  count             INTEGER NOT NULL,
  reason            INTEGER,
  detail            TEXT NOT NULL,
  position          INTEGER NOT NULL,
  units             INTEGER NOT NULL,
  metered_remaining INTEGER NOT NULL,
  renewals          INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX events_by_batch ON events (batch);

CREATE TABLE event_leases (
  seq                   INTEGER PRIMARY KEY REFERENCES events (seq),
  id                    INTEGER NOT NULL,
  feature               TEXT NOT NULL,
  version               TEXT NOT NULL,
  count                 INTEGER NOT NULL,
  client_id             TEXT NOT NULL,
  user                  TEXT NOT NULL,
  host                  TEXT NOT NULL,
  nonce                 BLOB NOT NULL,
  issued_at_ms          INTEGER NOT NULL,
  expires_at_ms         INTEGER NOT NULL,
  heartbeat_interval_ms INTEGER NOT NULL,
  borrowed              INTEGER NOT NULL,
  overdraft             INTEGER NOT NULL,
  in_grace              INTEGER NOT NULL,
  tokens                INTEGER NOT NULL,
  metered_units         INTEGER NOT NULL,
  lingering             INTEGER NOT NULL
) STRICT;
)sql";

// Schema 2: the audit chain (DESIGN.md §2, §5; docs/AUDIT.md). One block per committed
// batch that had events: the serialized header envelope and the exact leaf bytes, so a
// verifier hashes what was signed. `appliance` keeps the key's id and certificate as
// configured (informative: verifiers take their trust anchor from elsewhere).
constexpr const char* kV2 = R"sql(
CREATE TABLE audit_blocks (
  sequence INTEGER PRIMARY KEY CHECK (sequence >= 0),
  batch    INTEGER NOT NULL UNIQUE REFERENCES batches (batch),
  hash     BLOB NOT NULL,
  header   BLOB NOT NULL
) STRICT;

CREATE TABLE audit_leaves (
  sequence INTEGER NOT NULL REFERENCES audit_blocks (sequence),
  idx      INTEGER NOT NULL,
  leaf     BLOB NOT NULL,
  PRIMARY KEY (sequence, idx)
) STRICT;

CREATE TABLE appliance (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  appliance_id TEXT NOT NULL,
  certificate  BLOB
) STRICT;
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

}  // namespace tessera::store
