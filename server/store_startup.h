// tesserad's durable state at startup: open the store, restore the engine from it and record
// the files in force, before anything listens (docs/SERVER.md "Durable store").
// Thread safety: call once, from the main thread.
#pragma once

#include <memory>
#include <optional>

#include "base/status.h"
#include "server/config.h"
#include "server/engine/engine.h"
#include "server/store/batch_writer.h"

namespace tessera::server {

// Opens (creates, migrates) config.database, restores its state into `engine` (built from
// the files, with first_lease_id = `seed`; the restored next id is max(stored, seed)) and
// commits one full-state unit with the files in force. Returns the running writer. Every
// error names the database file; none may be ignored (the caller exits).
Result<std::unique_ptr<store::BatchWriter>> OpenStoreAndRestore(
    const ServerConfig& config, engine::Engine& engine, engine::LeaseId seed,
    std::optional<store::LicenseFile> entitlement_file,
    std::optional<store::LicenseFile> rules_file, std::size_t* restored_leases);

// The bytes of a license file as stored (nullopt for an empty path).
Result<std::optional<store::LicenseFile>> ReadLicenseFile(const std::string& path, TimePoint now);

}  // namespace tessera::server
