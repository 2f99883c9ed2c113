#include "fjord/coordinator/group_records.h"

#include "../common/versioned_record.h"
#include "absl/strings/str_cat.h"
#include "fjord/protocol/group/group_metadata_key.h"
#include "fjord/protocol/group/group_metadata_value.h"
#include "fjord/protocol/group/offset_commit_key.h"
#include "fjord/protocol/group/offset_commit_value.h"
#include "fjord/protocol/wire.h"

namespace fjord::coordinator {

namespace {

// Versions written; any version the schemas know is read.
constexpr int16_t kOffsetKeyVersion = 1;
constexpr int16_t kGroupKeyVersion = 2;
constexpr int16_t kOffsetValueVersion = 3;
constexpr int16_t kGroupValueVersion = 3;

absl::StatusOr<int16_t> SplitVersion(std::span<const uint8_t>* bytes, const char* what) {
  return SplitRecordVersion(bytes, "__consumer_offsets", what);
}

template <typename Message>
absl::Status DecodeVersioned(std::span<const uint8_t> bytes, int16_t version, Message* m,
                             const char* what) {
  return DecodeRecordVersion(bytes, version, m, "__consumer_offsets", what);
}

}  // namespace

KeyValue OffsetCommitRecord(const std::string& group, const std::string& topic, int32_t partition,
                            const CommittedOffset* offset) {
  protocol::group::OffsetCommitKey k;
  k.group = group;
  k.topic = topic;
  k.partition = PartitionId(partition);
  KeyValue kv{VersionedRecord(kOffsetKeyVersion, k), std::nullopt};
  if (offset != nullptr) {
    protocol::group::OffsetCommitValue v;
    v.offset = offset->offset.value;
    v.leader_epoch = LeaderEpoch(offset->leader_epoch);
    v.metadata = offset->metadata;
    v.commit_timestamp = offset->commit_ms;
    kv.value = VersionedRecord(kOffsetValueVersion, v);
  }
  return kv;
}

KeyValue GroupMetadataRecord(const std::string& group, const StoredGroup* g) {
  protocol::group::GroupMetadataKey k;
  k.group = group;
  KeyValue kv{VersionedRecord(kGroupKeyVersion, k), std::nullopt};
  if (g != nullptr) {
    protocol::group::GroupMetadataValue v;
    v.protocol_type = g->protocol_type;
    v.generation = g->generation;
    v.protocol = g->protocol;
    v.leader = g->leader;
    v.current_state_timestamp = g->state_ms;
    for (const StoredMember& m : g->members) {
      protocol::group::GroupMetadataValue::MemberMetadata mm;
      mm.member_id = m.member_id;
      mm.group_instance_id = m.instance_id;
      mm.client_id = m.client_id;
      mm.client_host = m.client_host;
      mm.rebalance_timeout = m.rebalance_timeout_ms;
      mm.session_timeout = m.session_timeout_ms;
      mm.subscription = m.subscription;
      mm.assignment = m.assignment;
      v.members.push_back(std::move(mm));
    }
    kv.value = VersionedRecord(kGroupValueVersion, v);
  }
  return kv;
}

absl::StatusOr<GroupRecord> DecodeGroupRecord(std::span<const uint8_t> key,
                                              std::optional<std::span<const uint8_t>> value) {
  absl::StatusOr<int16_t> kv = SplitVersion(&key, "key");
  if (!kv.ok()) return kv.status();
  GroupRecord out;
  std::optional<int16_t> vv;
  if (value) {
    absl::StatusOr<int16_t> v = SplitVersion(&*value, "value");
    if (!v.ok()) return v.status();
    vv = *v;
  }
  if (*kv == 0 || *kv == 1) {
    protocol::group::OffsetCommitKey k;
    if (absl::Status s = DecodeVersioned(key, *kv, &k, "offset commit key"); !s.ok()) return s;
    out.kind = GroupRecord::Kind::kOffsetCommit;
    out.group = std::move(k.group);
    out.topic = std::move(k.topic);
    out.partition = k.partition.value;
    if (value) {
      protocol::group::OffsetCommitValue v;
      if (absl::Status s = DecodeVersioned(*value, *vv, &v, "offset commit value"); !s.ok()) {
        return s;
      }
      out.offset = CommittedOffset{Offset(v.offset), v.leader_epoch.value, std::move(v.metadata),
                                   v.commit_timestamp, v.expire_timestamp};
    }
    return out;
  }
  if (*kv == 2) {
    protocol::group::GroupMetadataKey k;
    if (absl::Status s = DecodeVersioned(key, *kv, &k, "group metadata key"); !s.ok()) return s;
    out.kind = GroupRecord::Kind::kGroupMetadata;
    out.group = std::move(k.group);
    if (value) {
      protocol::group::GroupMetadataValue v;
      if (absl::Status s = DecodeVersioned(*value, *vv, &v, "group metadata value"); !s.ok()) {
        return s;
      }
      StoredGroup& g = out.metadata.emplace();
      g.protocol_type = std::move(v.protocol_type);
      g.generation = v.generation;
      g.protocol = std::move(v.protocol);
      g.leader = std::move(v.leader);
      g.state_ms = v.current_state_timestamp;
      for (auto& mm : v.members) {
        StoredMember m;
        m.member_id = std::move(mm.member_id);
        m.instance_id = std::move(mm.group_instance_id);
        m.client_id = std::move(mm.client_id);
        m.client_host = std::move(mm.client_host);
        m.rebalance_timeout_ms = mm.rebalance_timeout;
        // Version 0 has no rebalance timeout; Kafka then uses the session timeout.
        if (m.rebalance_timeout_ms < 0) m.rebalance_timeout_ms = mm.session_timeout;
        m.session_timeout_ms = mm.session_timeout;
        m.subscription = std::move(mm.subscription);
        m.assignment = std::move(mm.assignment);
        g.members.push_back(std::move(m));
      }
    }
    return out;
  }
  return out;  // kUnknown
}

int32_t PartitionForGroup(std::string_view group_id, int32_t partitions) {
  // Java's String.hashCode: h = 31 * h + c over UTF-16 code units, in int32 arithmetic.
  uint32_t h = 0;
  for (size_t i = 0; i < group_id.size();) {
    auto c = static_cast<unsigned char>(group_id[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    if (i + len > group_id.size()) {
      len = 1;  // cut short: take the byte as it is
      cp = c;
    }
    for (size_t j = 1; j < len; ++j) cp = (cp << 6) | (group_id[i + j] & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      h = 31 * h + (0xD800 + (cp >> 10));
      h = 31 * h + (0xDC00 + (cp & 0x3FF));
    } else {
      h = 31 * h + cp;
    }
  }
  // Kafka's Utils.abs: 0x7fffffff mask, so Integer.MIN_VALUE maps to 0.
  return static_cast<int32_t>((h & 0x7fffffffU) % static_cast<uint32_t>(partitions));
}

}  // namespace fjord::coordinator
