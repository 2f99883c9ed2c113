#include "fjord/coordinator/group_shard.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

void GroupShard::Replay(const GroupRecord& r) {
  switch (r.kind) {
    case GroupRecord::Kind::kOffsetCommit: {
      if (r.offset) {
        groups_[r.group].offsets[{r.topic, r.partition}] = *r.offset;
        return;
      }
      auto it = groups_.find(r.group);
      if (it != groups_.end()) it->second.offsets.erase({r.topic, r.partition});
      return;
    }
    case GroupRecord::Kind::kGroupMetadata:
      if (r.present) {
        Group& g = groups_[r.group];
        g.protocol_type = r.protocol_type;
        g.generation = r.generation;
      } else {
        groups_.erase(r.group);
      }
      return;
    case GroupRecord::Kind::kUnknown:
      return;
  }
}

void GroupShard::Commit(const std::string& group, int32_t generation, const std::string& member_id,
                        bool has_instance_id, std::vector<CommitItem>& items,
                        size_t max_metadata_bytes) {
  const bool simple = generation < 0 && member_id.empty() && !has_instance_id;
  ErrorCode group_error = ErrorCode::kNone;
  if (!simple) {
    // No group has members yet, so any named member or generation is not one of them.
    group_error =
        groups_.contains(group) ? ErrorCode::kUnknownMemberId : ErrorCode::kIllegalGeneration;
  }
  const int64_t now = clock_.NowMs();
  std::vector<KeyValue> records;
  std::vector<CommitItem*> accepted;
  for (CommitItem& item : items) {
    if (item.error != ErrorCode::kNone) continue;
    if (group_error != ErrorCode::kNone) {
      item.error = group_error;
      continue;
    }
    if (item.offset.metadata.size() > max_metadata_bytes) {
      item.error = ErrorCode::kOffsetMetadataTooLarge;
      continue;
    }
    item.offset.commit_ms = now;
    records.push_back(OffsetCommitRecord(group, item.topic, item.partition, &item.offset));
    accepted.push_back(&item);
  }
  if (records.empty()) return;
  if (absl::Status s = append_(records); !s.ok()) {
    // Kafka maps a failed write of the offsets partition to a retriable coordinator error.
    const ErrorCode e = absl::IsFailedPrecondition(s) ? ErrorCode::kNotCoordinator
                                                      : ErrorCode::kCoordinatorNotAvailable;
    for (CommitItem* item : accepted) item->error = e;
    return;
  }
  Group& g = groups_[group];
  for (CommitItem* item : accepted) g.offsets[{item->topic, item->partition}] = item->offset;
}

const GroupShard::Group* GroupShard::Find(const std::string& group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : &it->second;
}

}  // namespace fjord::coordinator
