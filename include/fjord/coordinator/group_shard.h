#pragma once
// The groups of one __consumer_offsets partition and their committed offsets: the
// coordinator state this node keeps for the groups that hash to that partition. The log
// is the truth: every change is appended as records first (through `Append`) and applied
// after the append succeeds, and Replay rebuilds the same state from the records when the
// partition is loaded. Lives on the partition's event loop; not thread-safe.
//
// Group membership (JoinGroup, SyncGroup, Heartbeat) is not built yet, so every group
// here is Empty: it exists because offsets were committed for it (a "simple" consumer
// group, as Kafka has for clients that assign partitions themselves).

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "fjord/base/clock.h"
#include "fjord/coordinator/group_records.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::coordinator {

class GroupShard {
 public:
  using Append = std::function<absl::Status(const std::vector<KeyValue>&)>;

  struct Group {
    std::string protocol_type;
    int32_t generation = 0;
    std::map<std::pair<std::string, int32_t>, CommittedOffset> offsets;
  };

  // One partition of an OffsetCommit; `error` set beforehand (e.g. an unknown topic)
  // skips it, and Commit sets it for the rest.
  struct CommitItem {
    std::string topic;
    int32_t partition = 0;
    CommittedOffset offset;
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
  };

  GroupShard(Clock& clock, Append append) : clock_(clock), append_(std::move(append)) {}

  // Applies one record read from the log (loading). Records of unknown kinds are skipped.
  void Replay(const GroupRecord& record);

  // OffsetCommit (Kafka's rules for a group without members): generation -1 and no member
  // id commits as a simple consumer, creating the group; a generation or member id names
  // a member this group does not have (ILLEGAL_GENERATION when the group does not exist,
  // UNKNOWN_MEMBER_ID when it does). Metadata longer than `max_metadata_bytes` is
  // OFFSET_METADATA_TOO_LARGE. All accepted partitions go into one append.
  void Commit(const std::string& group, int32_t generation, const std::string& member_id,
              bool has_instance_id, std::vector<CommitItem>& items, size_t max_metadata_bytes);

  const Group* Find(const std::string& group) const;
  const absl::flat_hash_map<std::string, Group>& groups() const { return groups_; }

 private:
  Clock& clock_;
  Append append_;
  absl::flat_hash_map<std::string, Group> groups_;
};

}  // namespace fjord::coordinator
