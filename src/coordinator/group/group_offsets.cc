// GroupShard: loading, committed offsets and the group-level admin operations
// (OffsetCommit, OffsetDelete, DeleteGroups, offset retention). Membership is in
// group_shard.cc.

#include "absl/strings/str_cat.h"
#include "fjord/coordinator/group_shard.h"
#include "fjord/net/event_loops.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log_validator.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

GroupShard::Group& GroupShard::GetOrCreate(const std::string& id) {
  auto& slot = groups_[id];
  if (!slot) {
    slot = std::make_unique<Group>();
    slot->id = id;
    slot->state_ms = clock_.NowMs();
  }
  return *slot;
}

const GroupShard::Group* GroupShard::Find(const std::string& group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second.get();
}

void GroupShard::RemoveGroup(const std::string& id) {
  auto it = groups_.find(id);
  if (it == groups_.end()) return;
  Group& g = *it->second;
  TransitionTo(g, GroupState::kDead);
  if (g.timer) g.timer->Cancel();
  groups_.erase(it);
}

namespace {

size_t RecordBytes(const std::vector<KeyValue>& records) {
  size_t n = 0;
  for (const KeyValue& kv : records) n += kv.key.size() + (kv.value ? kv.value->size() : 0);
  return n;
}

}  // namespace

ErrorCode GroupShard::Store(const std::vector<KeyValue>& records, const TxnProducer* producer,
                            ErrorCode too_large) {
  absl::Status s = append_(records, producer);
  if (s.ok()) return ErrorCode::kNone;
  // A transactional write refused by the producer's state keeps its own error.
  switch (storage::AppendErrorOf(s)) {
    case storage::AppendError::kInvalidProducerEpoch:
      return ErrorCode::kInvalidProducerEpoch;
    case storage::AppendError::kInvalidTxnState:
      return ErrorCode::kInvalidTxnState;
    case storage::AppendError::kMessageTooLarge:
    case storage::AppendError::kRecordListTooLarge:
      // Kafka: records larger than the offsets topic takes are not retriable (a group's
      // assignment: UNKNOWN_SERVER_ERROR; commits: INVALID_COMMIT_OFFSET_SIZE).
      Logger().warn("group records of {} bytes refused: {}", RecordBytes(records), s.message());
      return too_large;
    default:
      break;
  }
  // Kafka maps a failed write of the offsets partition to a retriable coordinator error.
  Logger().warn("writing {} group records failed: {}", records.size(), s.message());
  return absl::IsFailedPrecondition(s) ? ErrorCode::kNotCoordinator
                                       : ErrorCode::kCoordinatorNotAvailable;
}

ErrorCode GroupShard::StoreGroup(const Group& g) {
  const StoredGroup stored = g.ToStored();
  return Store({GroupMetadataRecord(g.id, &stored)});
}

// ---- Loading ----

void GroupShard::Replay(const GroupRecord& r) {
  switch (r.kind) {
    case GroupRecord::Kind::kOffsetCommit: {
      if (r.offset) {
        GetOrCreate(r.group).offsets[{r.topic, r.partition}] = *r.offset;
        return;
      }
      auto it = groups_.find(r.group);
      if (it == groups_.end()) return;
      it->second->offsets.erase({r.topic, r.partition});
      if (it->second->offsets.empty() && it->second->members.empty() &&
          it->second->protocol_type.empty()) {
        groups_.erase(it);
      }
      return;
    }
    case GroupRecord::Kind::kGroupMetadata: {
      if (!r.metadata) {
        auto it = groups_.find(r.group);
        if (it == groups_.end()) return;
        if (it->second->offsets.empty()) {
          groups_.erase(it);
        } else {
          // The group record is gone but later commits kept offsets: a simple group.
          auto offsets = std::move(it->second->offsets);
          it->second = std::make_unique<Group>();
          it->second->id = r.group;
          it->second->offsets = std::move(offsets);
        }
        return;
      }
      Group& g = GetOrCreate(r.group);
      const StoredGroup& s = *r.metadata;
      g.protocol_type = s.protocol_type;
      g.generation = s.generation;
      g.protocol = s.protocol;
      g.leader = s.leader;
      g.state_ms = s.state_ms;
      g.members.clear();
      g.static_members.clear();
      for (const StoredMember& sm : s.members) {
        GroupMember m;
        m.id = sm.member_id;
        m.instance_id = sm.instance_id;
        m.client_id = sm.client_id;
        m.client_host = sm.client_host;
        m.rebalance_timeout_ms = sm.rebalance_timeout_ms;
        m.session_timeout_ms = sm.session_timeout_ms;
        if (s.protocol) m.protocols.push_back({*s.protocol, sm.subscription});
        m.assignment = sm.assignment;
        if (m.instance_id) g.static_members[*m.instance_id] = m.id;
        g.members.emplace(m.id, std::move(m));
      }
      // A group with members comes back Stable (its last stored generation had an
      // assignment); without members it is Empty. A leader or protocol the record does
      // not back up (a damaged log) is not trusted.
      g.state = GroupState::kStable;
      if (g.members.empty() || !g.protocol) {
        g.state = GroupState::kEmpty;
        g.members.clear();
        g.static_members.clear();
        g.protocol.reset();
        g.leader.reset();
      } else if (!g.leader || !g.members.contains(*g.leader)) {
        g.leader = g.members.begin()->first;
      }
      return;
    }
    case GroupRecord::Kind::kUnknown:
      return;
  }
}

absl::Status GroupShard::ReplayBatch(const protocol::RecordBatchView& batch) {
  const protocol::RecordBatchHeader& h = batch.header();
  if (h.is_control()) {
    absl::StatusOr<std::optional<storage::ProducerAppend>> m =
        storage::MarkerAppendOf(batch, h.base_offset);
    if (!m.ok()) return m.status();
    if (*m) CompleteTxn(h.producer_id, (*m)->marker->commit);
    return absl::OkStatus();
  }
  protocol::RecordReader reader(batch);
  while (reader.Next()) {
    const protocol::Record& rec = reader.record();
    if (!rec.key) continue;
    absl::StatusOr<GroupRecord> r = DecodeGroupRecord(*rec.key, rec.value);
    if (!r.ok()) {
      if (LogUnreadable()) {
        Logger().warn("skipping the unreadable record at offset {}: {}", rec.offset.value,
                      r.status().message());
      }
      continue;
    }
    if (h.is_transactional() && r->kind == GroupRecord::Kind::kOffsetCommit && r->offset) {
      pending_txn_[h.producer_id.value][r->group][{r->topic, r->partition}] = *r->offset;
      continue;
    }
    Replay(*r);
  }
  return reader.status();
}

std::string GroupShard::Summary() const {
  return absl::StrCat(groups_.size(), " groups, ", pending_txn_.size(),
                      " open transactions with offsets");
}

void GroupShard::FinishLoad() {
  const int64_t now = clock_.NowMs();
  for (auto& [id, g] : groups_) {
    for (auto& [mid, m] : g->members) Heartbeated(m, now);
    Arm(*g);
  }
}

// ---- Offsets ----

void GroupShard::Commit(const std::string& group, int32_t generation, const std::string& member_id,
                        const std::optional<std::string>& instance_id,
                        std::vector<CommitItem>& items) {
  auto it = groups_.find(group);
  Group* g = it == groups_.end() ? nullptr : it->second.get();
  const bool as_member = generation >= 0 || !member_id.empty() || instance_id.has_value();
  ErrorCode group_error = ErrorCode::kNone;
  if (g == nullptr) {
    // Only a simple consumer (no generation, no member) may create a group by committing.
    if (generation >= 0) {
      group_error = ErrorCode::kIllegalGeneration;
    } else if (as_member) {
      group_error = ErrorCode::kUnknownMemberId;
    }
  } else if (g->Is(GroupState::kDead)) {
    group_error = ErrorCode::kCoordinatorNotAvailable;
  } else if (as_member) {
    group_error = ValidateMember(*g, member_id, instance_id);
    if (group_error == ErrorCode::kNone && generation != g->generation) {
      group_error = ErrorCode::kIllegalGeneration;
    }
  } else if (!g->Is(GroupState::kEmpty)) {
    group_error = ErrorCode::kUnknownMemberId;  // a group with members takes commits from them
  }
  if (group_error == ErrorCode::kNone && g != nullptr) {
    if (g->Is(GroupState::kCompletingRebalance)) {
      // The member has the new generation but no assignment yet.
      group_error = ErrorCode::kRebalanceInProgress;
    } else if (as_member) {
      // A commit counts as a heartbeat (Stable, or PreparingRebalance).
      Heartbeated(g->members.at(member_id), clock_.NowMs());
    }
  }
  std::vector<CommitItem*> accepted;
  std::vector<KeyValue> records = AcceptCommits(group, group_error, items, &accepted);
  if (records.empty()) return;
  if (ErrorCode e = Store(records, nullptr, ErrorCode::kInvalidCommitOffsetSize);
      e != ErrorCode::kNone) {
    for (CommitItem* item : accepted) item->error = e;
    return;
  }
  Group& target = GetOrCreate(group);
  for (CommitItem* item : accepted) target.offsets[{item->topic, item->partition}] = item->offset;
}

std::vector<KeyValue> GroupShard::AcceptCommits(const std::string& group, ErrorCode group_error,
                                                std::vector<CommitItem>& items,
                                                std::vector<CommitItem*>* accepted) {
  const int64_t now = clock_.NowMs();
  std::vector<KeyValue> records;
  for (CommitItem& item : items) {
    if (item.error != ErrorCode::kNone) continue;
    if (group_error != ErrorCode::kNone) {
      item.error = group_error;
      continue;
    }
    if (item.offset.metadata.size() > config_.max_metadata_bytes) {
      item.error = ErrorCode::kOffsetMetadataTooLarge;
      continue;
    }
    item.offset.commit_ms = now;
    records.push_back(OffsetCommitRecord(group, item.topic, item.partition, &item.offset));
    accepted->push_back(&item);
  }
  return records;
}

void GroupShard::TxnCommit(const std::string& group, TxnProducer producer, int32_t generation,
                           const std::string& member_id,
                           const std::optional<std::string>& instance_id,
                           std::vector<CommitItem>& items) {
  auto it = groups_.find(group);
  const Group* g = it == groups_.end() ? nullptr : it->second.get();
  ErrorCode group_error = ErrorCode::kNone;
  if (g != nullptr && g->Is(GroupState::kDead)) {
    group_error = ErrorCode::kCoordinatorNotAvailable;
  } else if (!member_id.empty() || instance_id.has_value()) {
    group_error =
        g == nullptr ? ErrorCode::kUnknownMemberId : ValidateMember(*g, member_id, instance_id);
  }
  if (group_error == ErrorCode::kNone && generation >= 0 &&
      (g == nullptr || generation != g->generation)) {
    group_error = ErrorCode::kIllegalGeneration;
  }
  std::vector<CommitItem*> accepted;
  std::vector<KeyValue> records = AcceptCommits(group, group_error, items, &accepted);
  if (records.empty()) return;
  if (ErrorCode e = Store(records, &producer, ErrorCode::kInvalidCommitOffsetSize);
      e != ErrorCode::kNone) {
    for (CommitItem* item : accepted) item->error = e;
    return;
  }
  ClassicGroup::Offsets& pending = pending_txn_[producer.id.value][group];
  for (CommitItem* item : accepted) pending[{item->topic, item->partition}] = item->offset;
}

void GroupShard::CompleteTxn(ProducerId producer, bool commit) {
  auto it = pending_txn_.find(producer.value);
  if (it == pending_txn_.end()) return;
  if (commit) {
    for (auto& [group, offsets] : it->second) {
      Group& g = GetOrCreate(group);
      for (auto& [key, offset] : offsets) g.offsets[key] = std::move(offset);
    }
  }
  pending_txn_.erase(it);
}

bool GroupShard::HasPendingOffset(const std::string& group, const std::string& topic,
                                  int32_t partition) const {
  for (const auto& [producer, groups] : pending_txn_) {
    auto g = groups.find(group);
    if (g != groups.end() && g->second.contains({topic, partition})) return true;
  }
  return false;
}

ErrorCode GroupShard::DeleteOffsets(const std::string& group, std::vector<DeleteItem>& items) {
  if (group.empty()) return ErrorCode::kInvalidGroupId;
  auto it = groups_.find(group);
  if (it == groups_.end() || it->second->Is(GroupState::kDead)) {
    return ErrorCode::kGroupIdNotFound;
  }
  Group& g = *it->second;
  std::optional<std::set<std::string>> subscribed;
  if (!g.Is(GroupState::kEmpty)) {
    if (g.protocol_type != "consumer") return ErrorCode::kNonEmptyGroup;
    subscribed = g.SubscribedTopics();
  }
  std::vector<KeyValue> records;
  std::vector<std::pair<std::string, int32_t>> removed;
  for (DeleteItem& item : items) {
    if (item.error != ErrorCode::kNone) continue;
    if (!g.Is(GroupState::kEmpty) && (!subscribed || subscribed->contains(item.topic))) {
      item.error = ErrorCode::kGroupSubscribedToTopic;
      continue;
    }
    if (g.offsets.contains({item.topic, item.partition})) {
      records.push_back(OffsetCommitRecord(group, item.topic, item.partition, nullptr));
      removed.emplace_back(item.topic, item.partition);
    }
  }
  if (!records.empty()) {
    if (ErrorCode e = Store(records); e != ErrorCode::kNone) return e;
  }
  for (const auto& tp : removed) g.offsets.erase(tp);
  return ErrorCode::kNone;
}

ErrorCode GroupShard::DeleteGroup(const std::string& group) {
  if (group.empty()) return ErrorCode::kInvalidGroupId;
  auto it = groups_.find(group);
  if (it == groups_.end() || it->second->Is(GroupState::kDead)) {
    return ErrorCode::kGroupIdNotFound;
  }
  Group& g = *it->second;
  if (!g.Is(GroupState::kEmpty)) return ErrorCode::kNonEmptyGroup;
  std::vector<KeyValue> records;
  for (const auto& [tp, o] : g.offsets) {
    records.push_back(OffsetCommitRecord(group, tp.first, tp.second, nullptr));
  }
  records.push_back(GroupMetadataRecord(group, nullptr));
  if (ErrorCode e = Store(records); e != ErrorCode::kNone) return e;
  Logger().info("group {} deleted with {} committed offsets", group, g.offsets.size());
  RemoveGroup(group);
  return ErrorCode::kNone;
}

size_t GroupShard::OnTopicsDeleted(const std::set<std::string>& topics) {
  size_t total = 0;
  std::vector<std::string> dead;
  for (auto& [id, gp] : groups_) {
    Group& g = *gp;
    std::vector<KeyValue> records;
    std::vector<std::pair<std::string, int32_t>> removed;
    for (const auto& [tp, o] : g.offsets) {
      if (!topics.contains(tp.first)) continue;
      records.push_back(OffsetCommitRecord(id, tp.first, tp.second, nullptr));
      removed.push_back(tp);
    }
    const bool drop =
        g.Is(GroupState::kEmpty) && !removed.empty() && removed.size() == g.offsets.size();
    if (drop) records.push_back(GroupMetadataRecord(id, nullptr));
    if (!records.empty() && Store(records) == ErrorCode::kNone) {
      for (const auto& tp : removed) g.offsets.erase(tp);
      total += removed.size();
      if (drop) dead.push_back(id);
    }
    if (g.Is(GroupState::kStable) || g.Is(GroupState::kCompletingRebalance)) {
      std::optional<std::set<std::string>> subscribed = g.SubscribedTopics();
      if (!subscribed) continue;
      for (const std::string& t : topics) {
        if (!subscribed->contains(t)) continue;
        PrepareRebalance(g, absl::StrCat("subscribed topic ", t, " was deleted"));
        break;
      }
    }
  }
  for (auto& [producer, by_group] : pending_txn_) {
    for (auto& [group, offsets] : by_group) {
      std::erase_if(offsets, [&](const auto& kv) { return topics.contains(kv.first.first); });
    }
  }
  for (const std::string& id : dead) RemoveGroup(id);
  if (total > 0) {
    Logger().info("removed {} committed offsets of deleted topics and {} empty groups", total,
                  dead.size());
  }
  return total;
}

size_t GroupShard::ExpireOffsets() {
  const int64_t now = clock_.NowMs();
  const int64_t retention = config_.offsets_retention_ms;
  size_t total = 0;
  std::vector<std::string> dead;
  for (auto& [id, gp] : groups_) {
    Group& g = *gp;
    // KIP-211: a group's offsets age from when it became Empty; a group that never had
    // members ages each commit on its own; a Stable consumer group ages the offsets of
    // topics it no longer subscribes to.
    std::optional<std::set<std::string>> subscribed;
    bool by_commit = true;
    if (!g.protocol_type.empty() && g.Is(GroupState::kEmpty)) {
      by_commit = g.state_ms < 0;
    } else if (g.protocol_type == "consumer" && g.Is(GroupState::kStable)) {
      subscribed = g.SubscribedTopics();
      if (!subscribed) continue;
    } else if (!g.protocol_type.empty()) {
      continue;
    }
    std::vector<KeyValue> records;
    std::vector<std::pair<std::string, int32_t>> expired;
    for (const auto& [tp, o] : g.offsets) {
      if (subscribed && subscribed->contains(tp.first)) continue;
      const int64_t base = by_commit ? o.commit_ms : g.state_ms;
      // Written so that timestamps from a damaged record cannot overflow.
      const bool old = o.expire_ms >= 0 ? now >= o.expire_ms : base <= now - retention;
      if (!old) continue;
      records.push_back(OffsetCommitRecord(id, tp.first, tp.second, nullptr));
      expired.push_back(tp);
    }
    const bool drop = g.Is(GroupState::kEmpty) && expired.size() == g.offsets.size();
    if (drop) records.push_back(GroupMetadataRecord(id, nullptr));
    if (records.empty()) continue;
    if (Store(records) != ErrorCode::kNone) continue;
    for (const auto& tp : expired) g.offsets.erase(tp);
    total += expired.size();
    if (drop) dead.push_back(id);
  }
  for (const std::string& id : dead) RemoveGroup(id);
  if (total > 0 || !dead.empty()) {
    Logger().info("expired {} committed offsets and removed {} empty groups", total, dead.size());
  }
  return total;
}

}  // namespace fjord::coordinator
