#pragma once
// The records of __consumer_offsets in Kafka's key/value format: a key is an int16
// version followed by OffsetCommitKey (versions 0, 1) or GroupMetadataKey (version 2);
// the value is an int16 version followed by the matching value schema, or null for a
// tombstone. Keys of other versions (the consumer and share group records) are reported
// as kUnknown so a newer log can still be read.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/coordinator/key_value.h"

namespace fjord::coordinator {

// A committed offset as OffsetCommit and OffsetFetch carry it.
struct CommittedOffset {
  Offset offset{-1};
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_ms = 0;
  int64_t expire_ms = -1;  // only from old records (OffsetCommit v2-v4 retention)

  bool operator==(const CommittedOffset&) const = default;
};

// `offset` null: the tombstone that deletes the commit.
KeyValue OffsetCommitRecord(const std::string& group, const std::string& topic, int32_t partition,
                            const CommittedOffset* offset);
// A member of a classic group as GroupMetadataValue stores it: the metadata of the
// selected protocol only, and the assignment the leader gave it.
struct StoredMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = -1;
  int32_t session_timeout_ms = 0;
  std::vector<uint8_t> subscription;
  std::vector<uint8_t> assignment;

  bool operator==(const StoredMember&) const = default;
};

// A classic group's own record (GroupMetadataValue): protocol_type "" for a group that
// only ever had simple commits; protocol and leader unset while the group is Empty.
struct StoredGroup {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t state_ms = -1;  // when the group entered its current state
  std::vector<StoredMember> members;

  bool operator==(const StoredGroup&) const = default;
};

// `g` null: the tombstone that deletes the group.
KeyValue GroupMetadataRecord(const std::string& group, const StoredGroup* g);

struct GroupRecord {
  enum class Kind { kOffsetCommit, kGroupMetadata, kUnknown };
  Kind kind = Kind::kUnknown;
  std::string group;
  std::string topic;                      // kOffsetCommit
  int32_t partition = 0;                  // kOffsetCommit
  std::optional<CommittedOffset> offset;  // kOffsetCommit; nullopt for a tombstone
  std::optional<StoredGroup> metadata;    // kGroupMetadata; nullopt for a tombstone
};

// Fails on a malformed key or value (the partition is then not loaded).
absl::StatusOr<GroupRecord> DecodeGroupRecord(std::span<const uint8_t> key,
                                              std::optional<std::span<const uint8_t>> value);

// The __consumer_offsets partition of a group: Kafka's abs(groupId.hashCode()) % partitions,
// with Java's String.hashCode over the UTF-16 code units of the id.
int32_t PartitionForGroup(std::string_view group_id, int32_t partitions);

}  // namespace fjord::coordinator
