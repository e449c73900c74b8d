#include "server/audit_startup.h"

#include <algorithm>
#include <future>
#include <utility>

#include "server/config.h"

namespace tessera::server {

namespace v1 = tessera::v1;

Result<std::string> LoadApplianceCertificate(const ServerConfig& config,
                                             const std::string& appliance_id) {
  if (config.certificate_file.empty()) return std::string();
  const std::string& path = config.certificate_file;
  auto bytes = ReadFileToString(path);
  if (!bytes.ok()) return InvalidArgument("certificate " + path + ": " + bytes.status().message());
  v1::SignedEnvelope envelope;
  v1::ApplianceCertificate cert;
  if (bytes->size() > 64 * 1024 || !envelope.ParseFromString(*bytes) ||
      !cert.ParseFromString(envelope.payload())) {
    return InvalidArgument("certificate " + path + " is not an appliance certificate");
  }
  if (cert.appliance_id() != appliance_id) {
    return InvalidArgument("certificate " + path + " is for appliance " + cert.appliance_id() +
                           ", not for this key (" + appliance_id + ")");
  }
  return std::move(*bytes);
}

Result<std::optional<v1::SignedEnvelope>> NewestBlockHeader(store::BatchWriter& writer) {
  std::optional<v1::SignedEnvelope> out;
  Status s = writer.RunOnWriter([&out](store::Store& db) -> Status {
    TESSERA_ASSIGN_OR_RETURN(std::optional<store::BlockRecord> last, db.LastBlock());
    if (!last) return Status::Ok();
    v1::SignedEnvelope envelope;
    if (!envelope.ParseFromString(last->header)) {
      return DataLoss("database " + db.path() + ": the newest audit block does not parse");
    }
    out = std::move(envelope);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<audit::ChainTip> StoredChainTip(store::BatchWriter& writer) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<v1::SignedEnvelope> newest, NewestBlockHeader(writer));
  if (!newest) return audit::ChainTip::Genesis();
  return audit::TipAfter(*newest);
}

Status SealQueuedEvents(store::BatchWriter& writer) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  writer.Submit(store::Unit{}, [&done](const Status& s, std::uint64_t) { done.set_value(s); });
  return result.get();
}

Result<std::unique_ptr<AuditSealer>> StartAudit(const ServerConfig& config, hsm::KeyStore& key,
                                                const std::string& appliance_id, uint64_t counter,
                                                store::BatchWriter& writer, const Clock& clock,
                                                const std::vector<StartEvent>& first) {
  TESSERA_ASSIGN_OR_RETURN(std::string certificate, LoadApplianceCertificate(config, appliance_id));
  TESSERA_ASSIGN_OR_RETURN(audit::ChainTip tip, StoredChainTip(writer));
  AuditSealer::Options options;
  options.appliance_id = appliance_id;
  options.certificate = certificate;
  options.tip = tip;
  options.counter = std::max(counter, tip.counter);
  auto sealer = std::make_unique<AuditSealer>(key, clock, std::move(options));
  std::optional<std::string> cert;
  if (!certificate.empty()) cert = certificate;
  Status installed = writer.RunOnWriter([&](store::Store& db) -> Status {
    TESSERA_RETURN_IF_ERROR(db.SaveAppliance(appliance_id, cert));
    db.SetBlockSealer(sealer.get());
    return Status::Ok();
  });
  if (!installed.ok()) return installed;
  for (const StartEvent& e : first) sealer->QueueApplianceEvent(e.kind, e.detail, e.actor);
  Status sealed = SealQueuedEvents(writer);
  if (!sealed.ok()) {
    (void)writer.RunOnWriter([](store::Store& db) {
      db.SetBlockSealer(nullptr);
      return Status::Ok();
    });
    return sealed;
  }
  return sealer;
}

}  // namespace tessera::server
