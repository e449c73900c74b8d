// The store's schema as numbered migrations, embedded in the binary (docs/STORE.md).
// Migration N brings a database from user_version N-1 to N. Append new migrations; never
// edit one that has shipped.
#pragma once

#include <span>

namespace tessera::store {

struct Migration {
  int version;      // 1, 2, ... in order
  const char* sql;  // statements run inside the migration's transaction
};

// All migrations in ascending version order.
std::span<const Migration> Migrations();

// The schema version this build writes (the last migration's version).
int LatestSchemaVersion();

}  // namespace tessera::store
