#include "server/store_startup.h"

#include <algorithm>
#include <filesystem>
#include <future>

#include "server/log.h"

namespace tessera::server {

namespace {

Status EnsureParentDir(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return Unavailable("cannot create '" + parent.string() + "': " + ec.message());
  return Status::Ok();
}

Status CommitAndWait(store::BatchWriter& writer, store::Unit unit) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  writer.Submit(std::move(unit), [&done](const Status& s, std::uint64_t) { done.set_value(s); });
  return result.get();
}

}  // namespace

Result<std::optional<store::LicenseFile>> ReadLicenseFile(const std::string& path, TimePoint now) {
  if (path.empty()) return std::optional<store::LicenseFile>();
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return std::optional<store::LicenseFile>(store::LicenseFile{std::move(bytes), now});
}

Result<std::unique_ptr<store::BatchWriter>> OpenStoreAndRestore(
    const ServerConfig& config, engine::Engine& engine, engine::LeaseId seed,
    std::optional<store::LicenseFile> entitlement_file,
    std::optional<store::LicenseFile> rules_file, std::size_t* restored_leases) {
  TESSERA_RETURN_IF_ERROR(EnsureParentDir(config.database));
  store::StoreOptions options;
  options.max_page_count = config.store_max_page_count;
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> db,
                           store::Store::Open(config.database, options));
  TESSERA_ASSIGN_OR_RETURN(engine::EngineState state, db->LoadState());
  *restored_leases = state.leases.size();
  state.next_lease_id = std::max(state.next_lease_id, seed);
  Status restored = engine.RestoreState(state);
  if (!restored.ok()) {
    return restored.Annotate("restoring the state of '" + config.database + "'");
  }
  auto writer = std::make_unique<store::BatchWriter>(std::move(db));
  // Records what RestoreState dropped and the files actually in force.
  store::Unit unit = store::FullStateUnit(engine.ExportState(), engine.TakeEvents());
  unit.entitlement = std::move(entitlement_file);
  unit.rules = std::move(rules_file);
  Status committed = CommitAndWait(*writer, std::move(unit));
  if (!committed.ok()) {
    writer->Stop();
    return committed;
  }
  return writer;
}

}  // namespace tessera::server
