// The batch transaction: the event log (with renewals coalesced) and the state changes.
#include <map>
#include <utility>

#include "server/store/store_impl.h"

namespace tessera::store {

using internal::Stmt;

namespace {

constexpr int kEventKindCount = static_cast<int>(engine::EventKind::kMeteredConsumed) + 1;

std::optional<engine::EventKind> ParseEventKind(const std::string& name) {
  for (int k = 0; k < kEventKindCount; ++k) {
    auto kind = static_cast<engine::EventKind>(k);
    if (engine::EventKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

// The batch's events in order, except that a renewal followed (later in the batch) by
// another renewal of the same lease, with no other event of that lease in between, is
// folded into the later one: one "renewed until" record per lease per run of renewals.
std::vector<CoalescedEvent> CoalesceRenewals(const std::vector<const Unit*>& units) {
  std::vector<const engine::Event*> all;
  for (const Unit* u : units) {
    for (const engine::Event& e : u->events) all.push_back(&e);
  }
  std::vector<uint32_t> renewals(all.size(), 1);
  std::vector<bool> keep(all.size(), true);
  std::map<engine::LeaseId, size_t> next_renewal;  // lease -> index of its next kept renewal
  for (size_t i = all.size(); i-- > 0;) {
    const engine::Event& e = *all[i];
    if (e.lease_id == 0) continue;
    if (e.kind != engine::EventKind::kRenewed) {
      next_renewal.erase(e.lease_id);
      continue;
    }
    auto it = next_renewal.find(e.lease_id);
    if (it != next_renewal.end()) {
      keep[i] = false;
      renewals[it->second] += renewals[i];
    } else {
      next_renewal[e.lease_id] = i;
    }
  }
  std::vector<CoalescedEvent> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (keep[i]) out.push_back({all[i], renewals[i]});
  }
  return out;
}

}  // namespace

Result<std::vector<CoalescedEvent>> Store::Impl::WriteEvents(
    uint64_t batch, const std::vector<const Unit*>& units) {
  std::vector<CoalescedEvent> records = CoalesceRenewals(units);
  for (const CoalescedEvent& r : records) {
    const engine::Event& e = *r.event;
    Stmt& s = insert_event;
    s.BindInt(1, static_cast<int64_t>(batch));
    s.BindText(2, engine::EventKindName(e.kind));
    s.BindInt(3, ToUnixMillis(e.at));
    s.BindInt(4, static_cast<int64_t>(e.lease_id));
    s.BindInt(5, static_cast<int64_t>(e.ticket));
    s.BindText(6, e.feature);
    s.BindText(7, e.client.client_id);
    s.BindText(8, e.client.user);
    s.BindText(9, e.client.host);
    s.BindInt(10, e.count);
    s.BindOptInt(11, e.reason ? std::optional<int64_t>(static_cast<int>(*e.reason)) : std::nullopt);
    s.BindText(12, e.detail);
    s.BindInt(13, e.position);
    s.BindInt(14, static_cast<int64_t>(e.units));
    s.BindInt(15, e.metered_remaining);
    s.BindInt(16, r.renewals);
    TESSERA_RETURN_IF_ERROR(s.Run());
    if (e.lease) {
      insert_event_lease.BindInt(1, sqlite3_last_insert_rowid(db.get()));
      BindLease(insert_event_lease, 2, *e.lease);
      TESSERA_RETURN_IF_ERROR(insert_event_lease.Run());
    }
  }
  return records;
}

Status Store::Impl::ReplaceBindings(const std::vector<engine::NamedUserBinding>& bindings) {
  TESSERA_RETURN_IF_ERROR(db.Exec("DELETE FROM named_user_bindings", "clear bindings"));
  TESSERA_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db,
                            "INSERT INTO named_user_bindings (feature, user, position, host, "
                            "bound_at_ms, held_until_ms, overdraft) VALUES (?,?,?,?,?,?,?)"));
  int64_t position = 0;
  for (const engine::NamedUserBinding& b : bindings) {
    s.BindText(1, b.feature);
    s.BindText(2, b.user);
    s.BindInt(3, position++);
    s.BindText(4, b.host);
    s.BindInt(5, ToUnixMillis(b.bound_at));
    s.BindInt(6, ToUnixMillis(b.held_until));
    s.BindInt(7, b.overdraft ? 1 : 0);
    TESSERA_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Status Store::Impl::ReplaceState(const engine::EngineState& state) {
  TESSERA_RETURN_IF_ERROR(
      db.Exec("DELETE FROM leases; DELETE FROM metered_counters;", "clear state"));
  for (const engine::Lease& l : state.leases) {
    BindLease(upsert_lease, 1, l);
    TESSERA_RETURN_IF_ERROR(upsert_lease.Run());
  }
  for (const auto& [feature, consumed] : state.metered_consumed) {
    add_metered.BindText(1, feature);
    add_metered.BindInt(2, static_cast<int64_t>(consumed));
    TESSERA_RETURN_IF_ERROR(add_metered.Run());
  }
  TESSERA_RETURN_IF_ERROR(ReplaceBindings(state.bindings));
  TESSERA_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db, "UPDATE meta SET value = ? WHERE key = 'next_lease_id'"));
  s.BindInt(1, static_cast<int64_t>(state.next_lease_id));
  return s.Run();
}

Status Store::Impl::ApplyChanges(const StateChanges& c) {
  if (c.replace) TESSERA_RETURN_IF_ERROR(ReplaceState(*c.replace));
  for (engine::LeaseId id : c.deletes) {
    delete_lease.BindInt(1, static_cast<int64_t>(id));
    TESSERA_RETURN_IF_ERROR(delete_lease.Run());
  }
  for (const auto& [id, lease] : c.upserts) {
    BindLease(upsert_lease, 1, lease);
    TESSERA_RETURN_IF_ERROR(upsert_lease.Run());
  }
  for (const auto& [feature, units] : c.metered_added) {
    add_metered.BindText(1, feature);
    add_metered.BindInt(2, static_cast<int64_t>(units));
    TESSERA_RETURN_IF_ERROR(add_metered.Run());
  }
  if (c.bindings) TESSERA_RETURN_IF_ERROR(ReplaceBindings(*c.bindings));
  if (c.next_lease_id_floor != 0) {
    raise_next_lease_id.BindInt(1, static_cast<int64_t>(c.next_lease_id_floor));
    TESSERA_RETURN_IF_ERROR(raise_next_lease_id.Run());
  }
  return Status::Ok();
}

Status Store::Impl::SaveFile(const char* table, const LicenseFile& file) {
  std::string sql = std::string("INSERT OR REPLACE INTO ") + table +
                    " (id, content, loaded_at_ms) VALUES (1,?,?)";
  TESSERA_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, sql));
  s.BindBlob(1, file.content);
  s.BindInt(2, ToUnixMillis(file.loaded_at));
  return s.Run();
}

Result<uint64_t> Store::Impl::WriteBatch(const std::vector<const Unit*>& units) {
  TESSERA_ASSIGN_OR_RETURN(
      int64_t last, db.QueryInt("SELECT COALESCE(MAX(batch), 0) FROM batches", "last batch"));
  auto batch = static_cast<uint64_t>(last) + 1;
  // The batch row goes first (events reference it); its event count is fixed up after.
  insert_batch.BindInt(1, static_cast<int64_t>(batch));
  insert_batch.BindInt(2, static_cast<int64_t>(units.size()));
  insert_batch.BindInt(3, 0);
  TESSERA_RETURN_IF_ERROR(insert_batch.Run());
  TESSERA_ASSIGN_OR_RETURN(std::vector<CoalescedEvent> records, WriteEvents(batch, units));
  if (sealer != nullptr) TESSERA_RETURN_IF_ERROR(WriteBlock(batch, records));
  TESSERA_ASSIGN_OR_RETURN(Stmt fix,
                           Stmt::Prepare(db, "UPDATE batches SET events=? WHERE batch=?"));
  fix.BindInt(1, static_cast<int64_t>(records.size()));
  fix.BindInt(2, static_cast<int64_t>(batch));
  TESSERA_RETURN_IF_ERROR(fix.Run());

  StateChanges merged;
  const LicenseFile* entitlement = nullptr;
  const LicenseFile* rules = nullptr;
  for (const Unit* u : units) {
    MergeChanges(merged, u->changes);
    if (u->entitlement) entitlement = &*u->entitlement;
    if (u->rules) rules = &*u->rules;
  }
  TESSERA_RETURN_IF_ERROR(ApplyChanges(merged));
  if (entitlement != nullptr) TESSERA_RETURN_IF_ERROR(SaveFile("entitlements", *entitlement));
  if (rules != nullptr) TESSERA_RETURN_IF_ERROR(SaveFile("rules", *rules));
  return batch;
}

Result<uint64_t> Store::CommitBatch(const std::vector<const Unit*>& units) {
  if (impl_->read_only) {
    return PermissionDenied("database " + path() + " is read-only; the batch was not stored");
  }
  TESSERA_RETURN_IF_ERROR(impl_->db.Exec("BEGIN IMMEDIATE", "begin batch"));
  Result<uint64_t> batch = impl_->WriteBatch(units);
  Status s = batch.status();
  if (s.ok()) s = impl_->db.Exec("COMMIT", "commit batch");
  if (impl_->sealer != nullptr) impl_->sealer->Committed(s.ok());
  if (!s.ok()) {
    // After SQLITE_FULL or an I/O error SQLite may already have rolled back; a ROLLBACK
    // without a transaction fails harmlessly.
    (void)impl_->db.Exec("ROLLBACK", "rollback batch");
    return s;
  }
  return batch;
}

Result<std::vector<StoredEvent>> Store::ReadEvents(uint64_t after_seq, size_t limit) {
  TESSERA_ASSIGN_OR_RETURN(
      Stmt s,
      Stmt::Prepare(impl_->db,
                    "SELECT e.seq, e.batch, e.renewals, e.kind, e.at_ms, e.lease_id, e.ticket, "
                    "e.feature, e.client_id, e.user, e.host, e.count, e.reason, e.detail, "
                    "e.position, e.units, e.metered_remaining, l.id, l.feature, l.version, "
                    "l.count, l.client_id, l.user, l.host, l.nonce, l.issued_at_ms, "
                    "l.expires_at_ms, l.heartbeat_interval_ms, l.borrowed, l.overdraft, "
                    "l.in_grace, l.tokens, l.metered_units, l.lingering FROM events e "
                    "LEFT JOIN event_leases l ON l.seq = e.seq WHERE e.seq > ? "
                    "ORDER BY e.seq LIMIT ?"));
  s.BindInt(1, static_cast<int64_t>(after_seq));
  s.BindInt(2, static_cast<int64_t>(limit));
  std::vector<StoredEvent> out;
  for (;;) {
    TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    StoredEvent se;
    se.seq = static_cast<uint64_t>(s.Int(0));
    se.batch = static_cast<uint64_t>(s.Int(1));
    se.renewals = static_cast<uint32_t>(s.Int(2));
    std::optional<engine::EventKind> kind = ParseEventKind(s.Text(3));
    if (!kind) return DataLoss("database " + path() + ": unknown event kind " + s.Text(3));
    engine::Event& e = se.event;
    e.kind = *kind;
    e.at = FromUnixMillis(s.Int(4));
    e.lease_id = static_cast<engine::LeaseId>(s.Int(5));
    e.ticket = static_cast<engine::QueueTicket>(s.Int(6));
    e.feature = s.Text(7);
    e.client = {s.Text(8), s.Text(9), s.Text(10)};
    e.count = static_cast<uint32_t>(s.Int(11));
    if (!s.IsNull(12)) e.reason = static_cast<engine::DenialReason>(s.Int(12));
    e.detail = s.Text(13);
    e.position = static_cast<uint32_t>(s.Int(14));
    e.units = static_cast<uint64_t>(s.Int(15));
    e.metered_remaining = s.Int(16);
    if (!s.IsNull(17)) e.lease = ReadLease(s, 17);
    out.push_back(std::move(se));
  }
  return out;
}

}  // namespace tessera::store
