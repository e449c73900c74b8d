// Starting the audit chain in tesserad (docs/SERVER.md "Signed leases and the audit
// chain"): load the appliance certificate, find the chain tip in the store, install the
// sealer on the writer and seal the start block, so a key store that cannot sign stops the
// daemon before it listens.
// Thread safety: call once, from the main thread, before the service starts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "hsm/key_store.h"
#include "server/audit_sealer.h"
#include "server/config.h"
#include "server/store/batch_writer.h"

namespace tessera::server {

// Reads config.certificate_file (a serialized SignedEnvelope) and checks that it certifies
// `appliance_id`. Empty string when no file is configured.
// Errors: kInvalidArgument naming the file (unreadable, not a certificate, another key's).
Result<std::string> LoadApplianceCertificate(const ServerConfig& config,
                                             const std::string& appliance_id);

// An appliance event to seal in the first block of a run.
struct StartEvent {
  tessera::v1::AuditEventKind kind = tessera::v1::APPLIANCE_STARTED;
  std::string detail;
  std::string actor;
};

// Creates the sealer for `key` and installs it on the writer's store: loads the
// certificate, records the appliance, continues the chain after the newest stored block,
// and seals `first` (e.g. APPLIANCE_STARTED) as a block, so a key store that cannot sign
// stops the daemon before it listens. `counter` is the monotonic counter value this run's
// blocks carry. `key` and `clock` must outlive the sealer; the writer must be stopped
// before the sealer is destroyed.
// Errors: kInvalidArgument for the certificate; the store's; audit.sign_failed.
Result<std::unique_ptr<AuditSealer>> StartAudit(const ServerConfig& config, hsm::KeyStore& key,
                                                const std::string& appliance_id, uint64_t counter,
                                                store::BatchWriter& writer, const Clock& clock,
                                                const std::vector<StartEvent>& first);

// The signed header of the newest stored audit block (nullopt for an empty chain), read on
// the writer. Errors: the store's; kDataLoss when it does not parse.
Result<std::optional<tessera::v1::SignedEnvelope>> NewestBlockHeader(store::BatchWriter& writer);

// Commits an empty unit and waits: seals whatever appliance events are queued.
Status SealQueuedEvents(store::BatchWriter& writer);

}  // namespace tessera::server
