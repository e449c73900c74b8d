// The audit chain in the store (DESIGN.md §2, §5; docs/STORE.md "Audit blocks").
//
// Every committed batch that has events is one audit block, written in the batch's own
// transaction: the Store calls a BlockSealer between writing the events and COMMIT, so a
// block is durable exactly when its events are, and a batch whose signature fails is not
// committed at all. The store keeps the header envelope and leaf bytes as they were signed
// and never re-serializes them.
//
// Thread safety: a BlockSealer is called on the thread that uses the Store (the
// BatchWriter's). The free functions open their own read-only connections and may run
// while tesserad writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/engine/events.h"
#include "tessera/v1/audit.pb.h"

namespace tessera::store {

// One event-log record of a batch: an engine event and how many renewals of its lease it
// stands for (renewals in a batch are coalesced to one record per lease).
struct CoalescedEvent {
  const engine::Event* event = nullptr;
  uint32_t renewals = 1;
};

// A sealed block as the store persists it.
struct BlockRecord {
  uint64_t sequence = 0;
  std::string hash;                 // SHA-256 of the header envelope's payload
  std::string header;               // serialized tessera.v1.SignedEnvelope
  std::vector<std::string> leaves;  // serialized tessera.v1.AuditEvent, in Merkle order
};

class BlockSealer {
 public:
  virtual ~BlockSealer() = default;
  // Called in every batch transaction with the batch's records (in log order, possibly
  // none): seals them, with whatever else the sealer adds, into the next block, or returns
  // nullopt when there is nothing to seal. An error fails the batch: nothing of it is
  // committed.
  virtual Result<std::optional<BlockRecord>> Seal(uint64_t batch,
                                                  std::span<const CoalescedEvent> events) = 0;
  // The outcome of the transaction, after every Seal: the chain advances only when true.
  virtual void Committed(bool ok) = 0;
};

// Up to `limit` blocks with sequence >= from_sequence, in order, from the database at
// `path` opened read-only. Errors as for Store::Open; kDataLoss when a stored header or leaf
// count is unreadable.
Result<std::vector<tessera::v1::AuditBlock>> ReadAuditBlocks(const std::string& path,
                                                             uint64_t from_sequence, size_t limit);

// The appliance certificate (a serialized SignedEnvelope) recorded by tesserad, if any.
Result<std::optional<std::string>> ReadStoredCertificate(const std::string& path);

}  // namespace tessera::store
