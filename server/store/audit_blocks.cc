// The audit chain's tables: writing a sealed block in the batch transaction, and reading
// blocks, the appliance record and meta values.
#include "server/store/audit_blocks.h"

#include <utility>

#include "server/store/store_impl.h"

namespace tessera::store {

using internal::Db;
using internal::Stmt;

namespace {

constexpr size_t kMaxBlocksPerRead = 100'000;

}  // namespace

Status Store::Impl::WriteBlock(uint64_t batch, std::span<const CoalescedEvent> events) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<BlockRecord> sealed, sealer->Seal(batch, events));
  if (!sealed) return Status::Ok();
  const BlockRecord& block = *sealed;
  insert_block.BindInt(1, static_cast<int64_t>(block.sequence));
  insert_block.BindInt(2, static_cast<int64_t>(batch));
  insert_block.BindBlob(3, block.hash);
  insert_block.BindBlob(4, block.header);
  TESSERA_RETURN_IF_ERROR(insert_block.Run());
  for (size_t i = 0; i < block.leaves.size(); ++i) {
    insert_leaf.BindInt(1, static_cast<int64_t>(block.sequence));
    insert_leaf.BindInt(2, static_cast<int64_t>(i));
    insert_leaf.BindBlob(3, block.leaves[i]);
    TESSERA_RETURN_IF_ERROR(insert_leaf.Run());
  }
  return Status::Ok();
}

void Store::SetBlockSealer(BlockSealer* sealer) { impl_->sealer = sealer; }

Result<std::optional<BlockRecord>> Store::LastBlock() {
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(impl_->db,
                                                 "SELECT sequence, hash, header FROM audit_blocks "
                                                 "ORDER BY sequence DESC LIMIT 1"));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<BlockRecord>();
  BlockRecord b;
  b.sequence = static_cast<uint64_t>(s.Int(0));
  b.hash = s.Text(1);
  b.header = s.Text(2);
  return std::optional<BlockRecord>(std::move(b));
}

Status Store::SaveAppliance(const std::string& appliance_id,
                            const std::optional<std::string>& cert) {
  TESSERA_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(impl_->db,
                            "INSERT OR REPLACE INTO appliance (id, appliance_id, certificate) "
                            "VALUES (1, ?, ?)"));
  s.BindText(1, appliance_id);
  if (cert) {
    s.BindBlob(2, *cert);
  } else {
    s.BindNull(2);
  }
  return s.Run();
}

Result<std::optional<int64_t>> Store::ReadMeta(const std::string& key) {
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(impl_->db, "SELECT value FROM meta WHERE key=?"));
  s.BindText(1, key);
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.Int(0));
}

Status Store::WriteMeta(const std::string& key, int64_t value) {
  if (impl_->read_only) return PermissionDenied("database " + path() + " is read-only");
  TESSERA_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(impl_->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
  s.BindText(1, key);
  s.BindInt(2, value);
  return s.Run();
}

Result<std::vector<tessera::v1::AuditBlock>> ReadAuditBlocks(const std::string& path,
                                                             uint64_t from_sequence, size_t limit) {
  TESSERA_ASSIGN_OR_RETURN(Db db, OpenReadOnly(path));
  limit = std::min(limit, kMaxBlocksPerRead);
  // One read transaction, so the blocks and their leaves come from one snapshot.
  TESSERA_RETURN_IF_ERROR(db.Exec("BEGIN", "read audit blocks"));
  TESSERA_ASSIGN_OR_RETURN(
      Stmt blocks, Stmt::Prepare(db,
                                 "SELECT sequence, header FROM audit_blocks WHERE sequence >= ? "
                                 "ORDER BY sequence LIMIT ?"));
  TESSERA_ASSIGN_OR_RETURN(
      Stmt leaves,
      Stmt::Prepare(db, "SELECT leaf FROM audit_leaves WHERE sequence = ? ORDER BY idx"));
  blocks.BindInt(1, static_cast<int64_t>(from_sequence));
  blocks.BindInt(2, static_cast<int64_t>(limit));
  std::vector<tessera::v1::AuditBlock> out;
  for (;;) {
    TESSERA_ASSIGN_OR_RETURN(bool row, blocks.Step());
    if (!row) break;
    tessera::v1::AuditBlock& block = out.emplace_back();
    std::string header = blocks.Text(1);
    if (!block.mutable_header()->ParseFromString(header)) {
      return DataLoss("database " + path + ": the header of block " +
                      std::to_string(blocks.Int(0)) + " does not parse");
    }
    leaves.Reset();
    leaves.BindInt(1, blocks.Int(0));
    for (;;) {
      TESSERA_ASSIGN_OR_RETURN(bool leaf, leaves.Step());
      if (!leaf) break;
      block.add_events(leaves.Text(0));
    }
  }
  (void)db.Exec("COMMIT", "end read");
  return out;
}

Result<std::optional<std::string>> ReadStoredCertificate(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Db db, OpenReadOnly(path));
  TESSERA_ASSIGN_OR_RETURN(Stmt s,
                           Stmt::Prepare(db, "SELECT certificate FROM appliance WHERE id = 1"));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.IsNull(0)) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

}  // namespace tessera::store
