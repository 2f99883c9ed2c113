#pragma once
// The state of one classic consumer group (the JoinGroup/SyncGroup protocol) as its
// coordinator keeps it: members, the state machine, the selected protocol, the
// committed offsets and the deadlines that drive rebalances. Plain data, the rules that
// read it and the bookkeeping of dropping a member; GroupShard owns the groups and
// performs the state transitions. Lives on
// the event loop of the group's __consumer_offsets partition.
//
// States, as Kafka names them (DescribeGroups and ListGroups report these strings):
//   Empty               no members; offsets may still be held
//   PreparingRebalance  waiting for members to (re)join
//   CompletingRebalance joined; waiting for the leader's assignment (SyncGroup)
//   Stable              assignment handed out; members heart-beat
//   Dead                removed (deleted, or its offsets expired); about to go

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fjord/coordinator/group_records.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::net {
class Timer;
}

namespace fjord::coordinator {

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };

// "Empty", "PreparingRebalance", ... as Kafka spells them.
const char* StateName(GroupState s);

// A protocol a member offers in JoinGroup: its name and the member's metadata for it.
struct MemberProtocol {
  std::string name;
  std::vector<uint8_t> metadata;

  bool operator==(const MemberProtocol&) const = default;
};

// What a JoinGroup answers (immediately, or when the rebalance's join phase completes).
struct JoinResult {
  struct Member {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::vector<uint8_t> metadata;
  };
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::string member_id;
  int32_t generation = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  bool skip_assignment = false;
  std::vector<Member> members;  // the leader's answer only
};

// What a SyncGroup answers.
struct SyncResult {
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<uint8_t> assignment;
};

struct GroupMember {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::vector<MemberProtocol> protocols;  // in the member's order of preference
  std::vector<uint8_t> assignment;
  // A parked JoinGroup / SyncGroup, answered when the rebalance gets there.
  std::function<void(JoinResult)> awaiting_join;
  std::function<void(SyncResult)> awaiting_sync;
  // Joined but has not yet been through a completed join phase: such a member may be
  // expired while it waits (Kafka's 5-minute new-member join timeout).
  bool is_new = false;
  int64_t heartbeat_deadline_ms = 0;

  // The metadata this member gave for `protocol` (empty when it did not offer it).
  const std::vector<uint8_t>& MetadataFor(const std::string& protocol) const;
};

struct ClassicGroup {
  std::string id;
  GroupState state = GroupState::kEmpty;
  int64_t state_ms = -1;
  std::string protocol_type;  // "" until a member joins (a simple, commit-only group)
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  std::map<std::string, GroupMember> members;                    // by member id
  absl::flat_hash_map<std::string, std::string> static_members;  // instance id -> member id
  // KIP-394: member ids handed out with MEMBER_ID_REQUIRED, awaiting their JoinGroup;
  // each with the deadline by which it must come back.
  absl::flat_hash_map<std::string, int64_t> pending_members;
  // Members that got a JoinGroup answer but have not sent SyncGroup yet.
  std::set<std::string> pending_sync;

  // The join phase's deadline (PreparingRebalance). The first rebalance of an empty group
  // waits group.initial.rebalance.delay.ms, extended while new members keep arriving.
  int64_t join_deadline_ms = -1;
  bool initial_join = false;
  bool new_member_added = false;
  int64_t initial_remaining_ms = 0;
  int64_t sync_deadline_ms = -1;  // CompletingRebalance: members that must SyncGroup by then

  using Offsets = std::map<std::pair<std::string, int32_t>, CommittedOffset>;
  Offsets offsets;

  std::shared_ptr<net::Timer> timer;  // armed for the earliest deadline above
  int64_t timer_at_ms = -1;

  bool Is(GroupState s) const { return state == s; }
  bool IsLeader(const std::string& member) const { return leader && *leader == member; }
  bool HasMember(const std::string& member) const { return members.contains(member); }
  // The member id the instance id maps to, or nullptr.
  const std::string* StaticMemberId(const std::string& instance_id) const;

  size_t AwaitingJoin() const;
  bool AllMembersJoined() const;
  bool AllMembersSynced() const { return pending_sync.empty(); }
  // The largest rebalance timeout of the members: how long a join phase may last.
  int32_t RebalanceTimeoutMs() const;

  // Drops a member: its static mapping, its pending sync, and its leadership, which goes
  // to the first remaining member. No state transition and no answer to parked requests.
  void Erase(const std::string& member_id);

  // Whether a member offering `protocol_type` and `protocols` may join: any non-empty
  // offer while the group is empty; otherwise the same type and at least one protocol
  // every current member supports.
  bool SupportsProtocols(const std::string& type,
                         const std::vector<MemberProtocol>& protocols) const;
  // Whether every member offers protocol `name`.
  bool EveryMemberSupports(const std::string& name) const;
  // The protocol of the next generation: among those every member supports, the one most
  // members rank first.
  std::string SelectProtocol() const;

  // The topics the members subscribe to, when the group speaks the consumer protocol and
  // every subscription parses; nullopt otherwise (then every topic counts as subscribed).
  std::optional<std::set<std::string>> SubscribedTopics() const;

  // The record that persists this group, with the given assignments.
  StoredGroup ToStored() const;
};

}  // namespace fjord::coordinator
