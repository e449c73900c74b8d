#include "server/daemon.h"

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/system_clock.h"
#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "protocol/audit/audit_error.h"
#include "server/audit_startup.h"
#include "server/database_lock.h"
#include "server/license_files.h"
#include "server/license_service.h"
#include "server/log.h"
#include "server/net/listener.h"
#include "server/store_startup.h"
#include "server/time/db_counter_record.h"
#include "server/trust_startup.h"

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

namespace asio = boost::asio;

namespace {

std::string Str(std::uint64_t v) { return std::to_string(v); }

// SQLite's own default page cap: "no cap".
constexpr std::uint64_t kNoPageCap = 4294967294;

void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  getrlimit(RLIMIT_NOFILE, &lim);
  Log(LogLevel::kInfo, "file_limit", {{"nofile", Str(lim.rlim_cur)}});
}

Result<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ServerConfig& c) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION) != 1) {
    return Internal("cannot require TLS 1.3");
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(c.tls_cert_file, ec);
  if (ec) return InvalidArgument("tls_cert_file '" + c.tls_cert_file + "': " + ec.message());
  ctx->use_private_key_file(c.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) return InvalidArgument("tls_key_file '" + c.tls_key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return InvalidArgument("tls_key_file does not match tls_cert_file");
  }
  return ctx;
}

Status WritePortFile(const std::string& path, std::uint16_t port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return Unavailable("cannot write port file '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot rename port file to '" + path + "': " + ec.message());
  return Status::Ok();
}

// Drives signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the files.
class Lifecycle {
 public:
  Lifecycle(asio::io_context& io, const ServerConfig& config, Listener& listener,
            LicenseService& service, store::BatchWriter& writer)
      : io_(io),
        config_(config),
        listener_(listener),
        service_(service),
        writer_(writer),
        signals_(io, SIGTERM, SIGINT, SIGHUP),
        timer_(io) {}

  void Start() { WaitForSignal(); }

 private:
  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        Reload();
        WaitForSignal();
        return;
      }
      if (draining_) {
        WaitForSignal();
        return;
      }
      draining_ = true;
      Log(LogLevel::kInfo, "draining",
          {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
           {"grace_ms", Str(config_.drain_grace_ms)},
           {"connections", Str(listener_.connection_count())}});
      asio::co_spawn(io_, Drain(), asio::detached);
      WaitForSignal();
    });
  }

  // The store's page cap is the one setting SIGHUP re-reads from the config file (an
  // operator's and the disk-full tests' lever).
  void ReloadStoreLimit() {
    if (config_.config_file.empty()) return;
    auto fresh = LoadConfigFile(config_.config_file);
    if (!fresh.ok()) return;
    const std::uint64_t pages =
        fresh->store_max_page_count == 0 ? kNoPageCap : fresh->store_max_page_count;
    Status s = writer_.RunOnWriter([pages](store::Store& db) { return db.SetMaxPageCount(pages); });
    Log(s.ok() ? LogLevel::kInfo : LogLevel::kError, "store_page_cap",
        {{"pages", Str(fresh->store_max_page_count)}, {"status", s.ToString()}});
  }

  void Reload() {
    Log(LogLevel::kInfo, "reload_started",
        {{"entitlement_file", config_.entitlement_file}, {"rules_file", config_.rules_file}});
    ReloadStoreLimit();
    const TimePoint now = RealClock().Now();
    auto entitlement = LoadEntitlementFile(config_.entitlement_file);
    auto rules = LoadRulesFile(config_.rules_file);
    auto entitlement_bytes = ReadLicenseFile(config_.entitlement_file, now);
    auto rules_bytes = ReadLicenseFile(config_.rules_file, now);
    if (!entitlement.ok() || !rules.ok() || !entitlement_bytes.ok() || !rules_bytes.ok()) {
      // Keep serving with the previous files.
      Status s = !entitlement.ok()         ? entitlement.status()
                 : !rules.ok()             ? rules.status()
                 : !entitlement_bytes.ok() ? entitlement_bytes.status()
                                           : rules_bytes.status();
      Log(LogLevel::kError, "reload_failed", {{"error", s.ToString()}});
      return;
    }
    service_.Reload(std::move(*entitlement), std::move(*rules), std::move(*entitlement_bytes),
                    std::move(*rules_bytes), [](Status s) {
                      if (s.ok()) {
                        Log(LogLevel::kInfo, "reload_done");
                      } else {
                        Log(LogLevel::kError, "reload_failed", {{"error", s.ToString()}});
                      }
                    });
  }

  asio::awaitable<void> Drain() {
    listener_.StopAccepting();
    service_.BeginDrain();
    tessera::v1::Frame push;
    push.mutable_server_draining()->set_grace_ms(config_.drain_grace_ms);
    listener_.Broadcast(push);
    // In-flight work finishes while clients disconnect; close what is left after the grace.
    const Duration deadline = MonotonicNow() + Duration(config_.drain_grace_ms);
    while (listener_.connection_count() > 0 && MonotonicNow() < deadline) {
      timer_.expires_after(std::chrono::milliseconds(20));
      co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    listener_.CloseAll();
    const Duration close_deadline = MonotonicNow() + std::chrono::seconds(2);
    while (listener_.connection_count() > 0 && MonotonicNow() < close_deadline) {
      timer_.expires_after(std::chrono::milliseconds(10));
      co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    service_.Stop();
    signals_.cancel();
    Log(LogLevel::kInfo, "stopped");
    io_.stop();
  }

  asio::io_context& io_;
  const ServerConfig& config_;
  Listener& listener_;
  LicenseService& service_;
  store::BatchWriter& writer_;
  asio::signal_set signals_;
  asio::steady_timer timer_;
  bool draining_ = false;
};

// The appliance identity key, held open for the daemon's life.
struct IdentityKey {
  std::unique_ptr<hsm::KeyStore> store;  // null: no key store configured
  std::string appliance_id;
  bool insecure = false;
};

// Opens the configured key store and reads the identity key's public half. A soft: store
// is refused unless insecure_dev_keys is set, and announced loudly when it is.
Result<IdentityKey> OpenIdentityKey(const ServerConfig& config) {
  IdentityKey key;
  if (config.key_uri.empty()) return key;
  hsm::OpenOptions options;
  options.allow_insecure = config.insecure_dev_keys;
  TESSERA_ASSIGN_OR_RETURN(key.store, hsm::OpenKeyStore(config.key_uri, options));
  auto spki = key.store->PublicKeyDer();
  if (!spki.ok()) {
    return spki.status().Annotate("no identity key in " + config.key_uri +
                                  " (provision it with `tessera provision --key-uri URI`)");
  }
  key.appliance_id = hsm::ApplianceId(*spki);
  key.insecure = key.store->insecure();
  return key;
}

// What Serve needs beyond the config: the engine, the running store writer, TLS, and the
// identity key with its audit sealer (null without a key store).
struct ServeParts {
  std::size_t features = 0;
  asio::ssl::context* tls = nullptr;
  const IdentityKey* key = nullptr;
  const AuditSealer* sealer = nullptr;
  const Clock* clock = nullptr;  // trusted time
  std::string lock_reason;
};

int Serve(const ServerConfig& config, engine::Engine engine, store::BatchWriter& writer,
          const ServeParts& parts);

// The database's lock for this process (server/database_lock.h). Nullopt, after logging,
// when another process holds it; a lock file that cannot be created is only a warning (the
// store then reports what is wrong with the location).
std::optional<DatabaseLock> LockDatabase(const std::string& database) {
  auto lock = DatabaseLock::Acquire(database);
  if (lock.ok()) return std::move(*lock);
  if (lock.status().code() == StatusCode::kFailedPrecondition) {
    Log(LogLevel::kError, "store_failed",
        {{"database", database}, {"error", lock.status().ToString()}});
    return std::nullopt;
  }
  Log(LogLevel::kWarn, "database_lock_unavailable", {{"error", lock.status().ToString()}});
  return DatabaseLock::Unlocked();
}

// The appliance's trust state for one run (docs/TRUST.md): the rollback guard over the
// database's counter record, trusted time, and with a key store the audit sealer.
struct Trust {
  std::unique_ptr<StoreCounterRecord> record;
  std::unique_ptr<trust::RollbackGuard> guard;
  std::unique_ptr<trust::TrustedTime> clock;
  std::unique_ptr<AuditSealer> sealer;
  std::string lock_reason;

  // Clock jumps go into the chain; those seen before the sealer exists wait here.
  std::mutex mu;
  AuditSealer* jump_sink = nullptr;      // guarded by mu
  std::vector<std::string> early_jumps;  // guarded by mu
  store::BatchWriter* writer = nullptr;

  // Queues outside `mu`: QueueApplianceEvent reads the clock, which may report a jump and
  // come back here.
  void OnJump(const trust::ClockJump& jump) {
    Log(LogLevel::kError, "clock_jump",
        {{"direction", std::string(trust::JumpDirectionName(jump.direction))},
         {"detail", jump.Describe()},
         {"alarm", "the system clock moved; expiry is judged on trusted time"}});
    AuditSealer* sink = nullptr;
    {
      std::lock_guard lock(mu);
      sink = jump_sink;
      if (sink == nullptr) early_jumps.push_back(jump.Describe());
    }
    if (sink != nullptr) SealJump(*sink, jump.Describe());
  }
  // The jumps seen so far, for the first block.
  std::vector<std::string> TakeEarlyJumps() {
    std::lock_guard lock(mu);
    return std::exchange(early_jumps, {});
  }
  void AttachSealer() {
    std::vector<std::string> late;  // seen while the first block was being sealed
    {
      std::lock_guard lock(mu);
      jump_sink = sealer.get();
      late.swap(early_jumps);
    }
    for (const std::string& d : late) SealJump(*sealer, d);
  }
  // Queues the jump for the next block and commits an empty unit, so it is sealed now
  // rather than with the next client request.
  void SealJump(AuditSealer& sink, const std::string& detail) {
    sink.QueueApplianceEvent(tessera::v1::CLOCK_JUMP, detail);
    if (writer->writable()) writer->Submit(store::Unit{}, [](const Status&, std::uint64_t) {});
  }
};

// Judges the database against the key store's counter (advancing it), starts trusted time
// from the newest block, and with a key store continues the audit chain with a first block
// recording the start (and a rollback, when one is detected).
Result<std::unique_ptr<Trust>> StartTrust(const ServerConfig& config, const IdentityKey& key,
                                          store::BatchWriter& writer) {
  auto t = std::make_unique<Trust>();
  t->writer = &writer;
  std::vector<StartEvent> first;
  first.push_back({tessera::v1::APPLIANCE_STARTED, "tesserad " TESSERA_VERSION " started", ""});
  uint64_t counter = 0;
  trust::Floor floor;
  if (key.store) {
    t->record = std::make_unique<StoreCounterRecord>(writer);
    t->guard = std::make_unique<trust::RollbackGuard>(*key.store, *t->record);
    TESSERA_ASSIGN_OR_RETURN(trust::RollbackVerdict verdict, t->guard->CheckAndAdvance());
    counter = verdict.advanced_to.value_or(verdict.device_value.value_or(0));
    first[0].detail += "; counter " + Str(counter);
    if (!verdict.serving_allowed()) {
      t->lock_reason = verdict.explanation;
      Log(LogLevel::kError, "rollback_detected",
          {{"state", std::string(trust::RollbackStateName(verdict.state))},
           {"detail", verdict.explanation},
           {"recovery", "docs/TRUST.md: tesserad accept-rollback, with the vendor"}});
      first.push_back({tessera::v1::ROLLBACK_DETECTED, verdict.explanation, ""});
    } else if (verdict.state == trust::RollbackState::kNoCounter) {
      Log(LogLevel::kWarn, "no_rollback_counter", {{"detail", verdict.explanation}});
    }
    TESSERA_ASSIGN_OR_RETURN(floor, StoredTimeFloor(writer));
  }
  Trust* raw = t.get();
  trust::TrustedTimeObserver observer;
  observer.on_jump = [raw](const trust::ClockJump& jump) { raw->OnJump(jump); };
  observer.on_fallback = [](std::string_view reason) {
    Log(LogLevel::kWarn, "trusted_time_fallback", {{"detail", std::string(reason)}});
  };
  t->clock = std::make_unique<trust::TrustedTime>(trust::RealSources(key.store.get()), floor,
                                                  trust::TrustedTimeOptions{}, observer);
  (void)t->clock->Now();  // a clock set back across the restart shows here
  for (std::string& d : t->TakeEarlyJumps()) first.push_back({tessera::v1::CLOCK_JUMP, d, ""});
  if (key.store) {
    TESSERA_ASSIGN_OR_RETURN(t->sealer, StartAudit(config, *key.store, key.appliance_id, counter,
                                                   writer, *t->clock, first));
    t->AttachSealer();
  }
  return t;
}

// After an orderly stop: the stop goes into the chain and the counter advances, so a copy
// of the database taken while this run lasted is detected at the next start.
void FinishTrust(Trust& t, store::BatchWriter& writer) {
  if (t.sealer && !writer.writable()) {
    Log(LogLevel::kError, "audit_stop_failed",
        {{"error", "the database cannot be written: APPLIANCE_STOPPED is not sealed"}});
  } else if (t.sealer) {
    t.sealer->QueueApplianceEvent(tessera::v1::APPLIANCE_STOPPED, "orderly stop");
    Status sealed = SealQueuedEvents(writer);
    if (!sealed.ok()) Log(LogLevel::kError, "audit_stop_failed", {{"error", sealed.ToString()}});
  }
  if (t.guard) {
    auto advanced = t.guard->CheckAndAdvance();
    if (advanced.ok()) {
      Log(LogLevel::kInfo, "counter_advanced",
          {{"counter", advanced->advanced_to ? Str(*advanced->advanced_to) : std::string("-")}});
    } else {
      Log(LogLevel::kError, "counter_advance_failed", {{"error", advanced.status().ToString()}});
    }
  }
}

}  // namespace

int RunDaemon(const ServerConfig& config) {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);
  std::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  auto entitlement = LoadEntitlementFile(config.entitlement_file);
  if (!entitlement.ok()) {
    Log(LogLevel::kError, "bad_entitlement", {{"error", entitlement.status().ToString()}});
    return kExitBadConfig;
  }
  auto rules = LoadRulesFile(config.rules_file);
  if (!rules.ok()) {
    Log(LogLevel::kError, "bad_rules", {{"error", rules.status().ToString()}});
    return kExitBadConfig;
  }
  std::unique_ptr<asio::ssl::context> tls;
  if (!config.tls_cert_file.empty()) {
    auto ctx = MakeTlsContext(config);
    if (!ctx.ok()) {
      Log(LogLevel::kError, "bad_tls", {{"error", ctx.status().ToString()}});
      return kExitBadConfig;
    }
    tls = std::move(*ctx);
  }
  auto key = OpenIdentityKey(config);
  if (!key.ok()) {
    Log(LogLevel::kError, "key_store_failed",
        {{"key_uri", config.key_uri}, {"error", key.status().ToString()}});
    return kExitKeyStoreFailure;
  }
  if (key->insecure) {
    Log(LogLevel::kWarn, "insecure_key_store",
        {{"key_uri", config.key_uri},
         {"detail",
          "INSECURE: the identity key is a file (development keys); never in production"}});
  }
  const TimePoint now = RealClock().Now();
  auto entitlement_bytes = ReadLicenseFile(config.entitlement_file, now);
  auto rules_bytes = ReadLicenseFile(config.rules_file, now);
  if (!entitlement_bytes.ok() || !rules_bytes.ok()) {
    Status s = entitlement_bytes.ok() ? rules_bytes.status() : entitlement_bytes.status();
    Log(LogLevel::kError, "bad_config", {{"error", s.ToString()}});
    return kExitBadConfig;
  }
  engine::EngineOptions options;
  options.first_lease_id = config.lease_id_seed != 0 ? config.lease_id_seed : SeedLeaseId(now);
  std::size_t features = entitlement->features.size();
  auto engine = engine::Engine::Create(options, std::move(*entitlement), std::move(*rules));
  if (!engine.ok()) {
    Log(LogLevel::kError, "bad_entitlement", {{"error", engine.status().ToString()}});
    return kExitBadConfig;
  }
  auto db_lock = LockDatabase(config.database);
  if (!db_lock) return kExitStoreFailure;
  std::size_t restored = 0;
  auto writer =
      OpenStoreAndRestore(config, *engine, options.first_lease_id, std::move(*entitlement_bytes),
                          std::move(*rules_bytes), &restored);
  if (!writer.ok()) {
    Log(LogLevel::kError, "store_failed",
        {{"database", config.database},
         {"error", writer.status().ToString()},
         {"detail", "refusing to start; see docs/STORE.md for restoring a backup"}});
    return kExitStoreFailure;
  }
  Log(LogLevel::kInfo, "store_opened",
      {{"database", config.database}, {"restored_leases", Str(restored)}});
  auto trust = StartTrust(config, *key, **writer);
  if (!trust.ok()) {
    const Status& error = trust.status();
    const bool bad_cert = error.code() == StatusCode::kInvalidArgument;
    // The key store's and the signer's typed errors are the key store's; the rest come
    // from the database (the counter record, the stored chain).
    const bool device =
        hsm::HsmErrorOf(error).has_value() || audit::AuditErrorOf(error).has_value();
    Log(LogLevel::kError, bad_cert ? "bad_certificate" : "trust_start_failed",
        {{"error", error.ToString()}});
    (*writer)->Stop();
    if (bad_cert) return kExitBadConfig;
    return device ? kExitKeyStoreFailure : kExitStoreFailure;
  }
  Trust& t = **trust;
  if (t.sealer) {
    Log(LogLevel::kInfo, "audit_chain",
        {{"next_block", Str(t.sealer->tip().next_sequence)},
         {"certificate", config.certificate_file.empty() ? "-" : config.certificate_file}});
  } else {
    Log(LogLevel::kWarn, "unsigned_leases",
        {{"detail", "no key store (--key-uri): leases carry no signed token, no audit chain"}});
  }
  ServeParts parts;
  parts.features = features;
  parts.tls = tls.get();
  parts.key = &*key;
  parts.sealer = t.sealer.get();
  parts.clock = t.clock.get();
  parts.lock_reason = t.lock_reason;
  int code = Serve(config, std::move(*engine), **writer, parts);
  if (code == kExitOk) FinishTrust(t, **writer);
  (*writer)->Stop();  // before the sealer and the clock go
  Log(LogLevel::kInfo, "store_closed", {{"database", config.database}});
  return code;
}

int AcceptRollback(const ServerConfig& config, const std::string& actor) {
  if (Status valid = trust::ValidateActor(actor); !valid.ok()) {
    Log(LogLevel::kError, "bad_usage", {{"error", "--actor: " + valid.message()}});
    return kExitUsage;
  }
  auto db_lock = LockDatabase(config.database);
  if (!db_lock) return kExitStoreFailure;
  auto key = OpenIdentityKey(config);
  if (!key.ok() || !key->store) {
    Log(LogLevel::kError, "key_store_failed",
        {{"key_uri", config.key_uri},
         {"error", key.ok() ? "no key store configured (--key-uri)" : key.status().ToString()}});
    return kExitKeyStoreFailure;
  }
  auto db = store::Store::Open(config.database);
  if (!db.ok()) {
    Log(LogLevel::kError, "store_failed", {{"error", db.status().ToString()}});
    return kExitStoreFailure;
  }
  // Declared before the writer, so the writer (stopped first) never outlives them.
  std::unique_ptr<trust::TrustedTime> clock;
  std::unique_ptr<AuditSealer> sealer;
  store::BatchWriter writer(std::move(*db));
  StoreCounterRecord record(writer);
  trust::RollbackGuard guard(*key->store, record);
  auto verdict = guard.Check();
  if (!verdict.ok()) {
    Log(LogLevel::kError, "accept_rollback_failed", {{"error", verdict.status().ToString()}});
    return kExitKeyStoreFailure;
  }
  if (verdict->serving_allowed()) {
    // Nothing to accept: running the command twice is harmless.
    Log(LogLevel::kInfo, "no_rollback",
        {{"state", std::string(trust::RollbackStateName(verdict->state))},
         {"detail", verdict->explanation}});
    return kExitOk;
  }
  // The acceptance is sealed into the chain before it takes effect, so it never takes effect
  // unrecorded; the block's time comes from trusted time, like tesserad's.
  auto floor = StoredTimeFloor(writer);
  if (!floor.ok()) {
    Log(LogLevel::kError, "store_failed", {{"error", floor.status().ToString()}});
    return kExitStoreFailure;
  }
  clock = std::make_unique<trust::TrustedTime>(trust::RealSources(key->store.get()), *floor);
  const uint64_t device = verdict->device_value.value_or(0);
  auto started =
      StartAudit(config, *key->store, key->appliance_id, device, writer, *clock,
                 {{tessera::v1::ROLLBACK_ACCEPTED,
                   trust::DescribeAcceptance(verdict->database_value, device, actor), actor}});
  if (!started.ok()) {
    Log(LogLevel::kError, "accept_rollback_failed",
        {{"error", started.status().ToString()}, {"detail", "nothing was accepted"}});
    return started.status().code() == StatusCode::kInvalidArgument ? kExitBadConfig
                                                                   : kExitKeyStoreFailure;
  }
  sealer = std::move(*started);
  auto accepted = guard.AcceptRollback(actor);
  if (!accepted.ok()) {
    Log(LogLevel::kError, "accept_rollback_failed",
        {{"error", accepted.status().ToString()},
         {"detail", "the acceptance is in the audit chain but not recorded; run it again"}});
    return kExitKeyStoreFailure;
  }
  writer.Stop();
  Log(LogLevel::kInfo, "rollback_accepted",
      {{"detail", accepted->description}, {"counter", Str(accepted->to)}});
  return kExitOk;
}

namespace {

int Serve(const ServerConfig& config, engine::Engine engine, store::BatchWriter& writer,
          const ServeParts& parts) {
  asio::io_context io(static_cast<int>(config.io_threads));
  const IdentityKey& key = *parts.key;
  asio::ssl::context* tls = parts.tls;
  const std::size_t features = parts.features;
  LicenseService service(io, std::move(engine), writer, Duration(config.store_resync_ms),
                         *parts.clock);
  service.SetAudit(parts.sealer);
  if (!parts.lock_reason.empty()) service.SetLocked(parts.lock_reason);
  ConnectionLimits limits;
  limits.max_frame_bytes = config.max_frame_bytes;
  limits.max_in_flight = config.max_in_flight;
  limits.read_timeout = Duration(config.read_timeout_ms);
  limits.idle_timeout = Duration(config.idle_timeout_ms);
  limits.write_queue_bytes = config.write_queue_bytes;
  service.SetIdentity(key.appliance_id, key.insecure);
  ServerIdentity identity{config.server_id, key.appliance_id, TESSERA_VERSION};
  Listener listener(io, limits, identity, config.max_connections, service, tls);

  std::string host;
  std::uint16_t port = 0;
  (void)SplitHostPort(config.listen, &host, &port);
  Status bound = listener.Bind(host, port);
  if (!bound.ok()) {
    Log(LogLevel::kError, "cannot_listen", {{"error", bound.ToString()}});
    writer.Stop();
    return kExitCannotListen;
  }
  if (!config.port_file.empty()) {
    Status written = WritePortFile(config.port_file, listener.port());
    if (!written.ok()) {
      Log(LogLevel::kError, "cannot_write_port_file", {{"error", written.ToString()}});
      writer.Stop();
      return kExitCannotListen;
    }
  }
  Log(LogLevel::kInfo, "listening",
      {{"addr", host + ":" + Str(listener.port())},
       {"tls", tls != nullptr ? "on" : "off"},
       {"server_id", config.server_id},
       {"features", Str(features)},
       {"database", config.database},
       {"appliance_id", key.appliance_id.empty() ? "-" : key.appliance_id},
       {"insecure_keys", key.insecure ? "yes" : "no"},
       {"version", TESSERA_VERSION}});

  Lifecycle lifecycle(io, config, listener, service, writer);
  lifecycle.Start();
  service.Start();
  listener.Start();

  std::atomic<int> exit_code{kExitOk};
  auto run = [&io, &exit_code]() {
    try {
      io.run();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "runtime_failure", {{"what", e.what()}});
      exit_code = kExitRuntimeFailure;
      io.stop();
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t i = 1; i < config.io_threads; ++i) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
  // Units the service submitted may still be committing, and their callbacks post to this
  // io_context's strands: wait for them while both still exist (the posted handlers never
  // run: io is stopped). The caller seals the stop and then stops the writer.
  (void)writer.Flush();
  if (!config.port_file.empty()) std::remove(config.port_file.c_str());
  return exit_code;
}

}  // namespace

}  // namespace tessera::server
