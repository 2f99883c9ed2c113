#pragma once
// The groups of one __consumer_offsets partition: their membership (the classic
// JoinGroup/SyncGroup protocol), their committed offsets, and the timers that expire
// members and end join phases. The log is the truth: every change that must survive a
// restart (a group's generation and assignment, a commit, a deletion) is appended as
// records first (through `Append`) and applied after the append succeeds, and Replay
// rebuilds the same state from the records when the partition is loaded.
//
// Lives on the partition's event loop and is not thread-safe; callbacks given to Join
// and Sync run on that loop, possibly later (when the rebalance gets there). Timers come
// from `Schedule`, which must run its task on the same loop; destroying the shard
// cancels them.

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "fjord/base/clock.h"
#include "fjord/coordinator/classic_group.h"
#include "fjord/coordinator/group_records.h"
#include "fjord/coordinator/shard_host.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/storage/producer_state.h"

namespace fjord::coordinator {

struct GroupConfig {
  int32_t min_session_timeout_ms = 6000;
  int32_t max_session_timeout_ms = 1800000;
  int32_t initial_rebalance_delay_ms = 3000;
  int32_t max_size = INT32_MAX;
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  size_t max_metadata_bytes = 4096;
};

// The producer of a transactional offset commit (TxnOffsetCommit, KIP-98).
struct TxnProducer {
  ProducerId id{-1};
  ProducerEpoch epoch{-1};
  // KIP-890, with transaction.partition.verification.enable: the guard the write presents
  // (see storage::Log::AppendAsLeader); nullopt writes unverified.
  std::optional<storage::VerificationGuard> verification = std::nullopt;
};

class GroupShard final : public CoordinatorShard {
 public:
  // Writes records as one batch: a transactional batch of `producer` when it is set.
  using Append = std::function<absl::Status(const std::vector<KeyValue>&, const TxnProducer*)>;
  // Runs task after delay_ms on the shard's loop; the returned timer cancels it.
  using Schedule =
      std::function<std::shared_ptr<net::Timer>(int64_t delay_ms, std::function<void()> task)>;
  using Group = ClassicGroup;

  struct JoinRequest {
    std::string group_id;
    std::string member_id;  // "" for a member joining for the first time
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    std::string protocol_type;
    std::vector<MemberProtocol> protocols;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    bool require_known_member_id = false;   // JoinGroup v4+ (KIP-394)
    bool supports_skip_assignment = false;  // JoinGroup v9+ (KIP-814)
    std::string reason;
  };

  struct SyncRequest {
    std::string group_id;
    std::string member_id;
    std::optional<std::string> instance_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<std::pair<std::string, std::vector<uint8_t>>> assignments;  // from the leader
  };

  // One partition of an OffsetCommit; `error` set beforehand (e.g. an unknown topic)
  // skips it, and Commit sets it for the rest.
  struct CommitItem {
    std::string topic;
    int32_t partition = 0;
    CommittedOffset offset;
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
  };

  // One member of a LeaveGroup, and its answer.
  struct LeaveItem {
    std::string member_id;
    std::optional<std::string> instance_id;
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
  };

  // One partition of an OffsetDelete, and its answer.
  struct DeleteItem {
    std::string topic;
    int32_t partition = 0;
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
  };

  GroupShard(Clock& clock, Append append, Schedule schedule = nullptr, GroupConfig config = {});
  ~GroupShard();
  GroupShard(const GroupShard&) = delete;
  GroupShard& operator=(const GroupShard&) = delete;

  // Applies one record read from the log (loading). Records of unknown kinds are skipped.
  void Replay(const GroupRecord& record);
  // Loading: the records of a batch, or a transaction marker. A transactional batch's
  // offsets stay pending until its producer's marker.
  absl::Status ReplayBatch(const protocol::RecordBatchView& batch) override;
  // After the last Replay: groups that came back with members are Stable, and each member
  // must heart-beat within its session timeout from now.
  void FinishLoad() override;
  // The shard is going away (shutdown, or this node no longer coordinates it): parked
  // JoinGroup and SyncGroup requests get NOT_COORDINATOR and timers stop.
  void Unload() override;
  // Offset retention (ExpireOffsets).
  void Tick() override { ExpireOffsets(); }
  std::string Summary() const override;

  // JoinGroup: done runs now (an error, MEMBER_ID_REQUIRED, a member that is already in
  // the current generation) or when the join phase of the rebalance completes.
  void Join(JoinRequest req, std::function<void(JoinResult)> done);
  // SyncGroup: done runs now, or once the leader's assignment is stored.
  void Sync(SyncRequest req, std::function<void(SyncResult)> done);
  protocol::ErrorCode Heartbeat(const std::string& group, const std::string& member_id,
                                const std::optional<std::string>& instance_id, int32_t generation);
  // LeaveGroup: per-member answers in `members`; returns the group-level error.
  protocol::ErrorCode Leave(const std::string& group, std::vector<LeaveItem>& members,
                            const std::string& reason);

  // OffsetCommit with Kafka's generation and member checks; simple commits (generation
  // -1, no member) create an Empty group. Metadata longer than max_metadata_bytes is
  // OFFSET_METADATA_TOO_LARGE. All accepted partitions go into one append.
  void Commit(const std::string& group, int32_t generation, const std::string& member_id,
              const std::optional<std::string>& instance_id, std::vector<CommitItem>& items);
  // TxnOffsetCommit (KIP-98, KIP-447): written as a transactional batch of `producer` and
  // kept pending, invisible to OffsetFetch, until the producer's transaction ends. Kafka's
  // checks: an unknown member is UNKNOWN_MEMBER_ID, a wrong generation ILLEGAL_GENERATION;
  // a fenced producer INVALID_PRODUCER_EPOCH.
  void TxnCommit(const std::string& group, TxnProducer producer, int32_t generation,
                 const std::string& member_id, const std::optional<std::string>& instance_id,
                 std::vector<CommitItem>& items);
  // The marker of `producer`'s transaction was written: its pending offsets are committed
  // or dropped.
  void CompleteTxn(ProducerId producer, bool commit);
  // Whether a transaction holds an offset of this partition pending (require_stable).
  bool HasPendingOffset(const std::string& group, const std::string& topic,
                        int32_t partition) const;

  // OffsetDelete: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, or per partition
  // GROUP_SUBSCRIBED_TO_TOPIC while a member consumes the topic.
  protocol::ErrorCode DeleteOffsets(const std::string& group, std::vector<DeleteItem>& items);
  // DeleteGroups for one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, or the group and its
  // offsets are gone.
  protocol::ErrorCode DeleteGroup(const std::string& group);
  // Topics were deleted (Kafka's onPartitionsDeleted): their committed offsets go, with
  // tombstones, and pending transactional ones are dropped; an Empty group left with no
  // offsets is removed. A consumer group whose members subscribe to one of them
  // rebalances, so its leader assigns from the metadata as it now is (Kafka leaves that
  // to the clients' metadata refresh, which can take minutes). Returns how many offsets
  // were removed.
  size_t OnTopicsDeleted(const std::set<std::string>& topics);
  // Drops the offsets older than offsets.retention.minutes (counted from when the group
  // became Empty, or from the commit for groups without members) and the Empty groups
  // left with none. Returns how many offsets expired.
  size_t ExpireOffsets();

  const Group* Find(const std::string& group) const;
  const absl::flat_hash_map<std::string, std::unique_ptr<Group>>& groups() const { return groups_; }

 private:
  Group& GetOrCreate(const std::string& id);
  void TransitionTo(Group& g, GroupState s);

  // The join phase.
  void NewMemberJoin(Group& g, JoinRequest& req, std::function<void(JoinResult)>& done);
  void CurrentMemberJoin(Group& g, JoinRequest& req, std::function<void(JoinResult)>& done);
  void AddMemberAndRebalance(Group& g, const std::string& member_id, JoinRequest& req,
                             std::function<void(JoinResult)> done);
  void UpdateMemberAndRebalance(Group& g, GroupMember& m, JoinRequest& req,
                                std::function<void(JoinResult)> done, const std::string& reason);
  void ReplaceStaticMember(Group& g, const std::string& old_id, JoinRequest& req,
                           const std::string& new_id, std::function<void(JoinResult)> done);
  void MaybePrepareRebalance(Group& g, const std::string& reason);
  void PrepareRebalance(Group& g, const std::string& reason);
  void MaybeCompleteJoin(Group& g);
  void CompleteJoin(Group& g);
  JoinResult CurrentJoinResult(const Group& g, const std::string& member_id,
                               bool with_members) const;

  // Members leaving, failing, being fenced.
  void RemoveMember(Group& g, const std::string& member_id, const std::string& reason);
  void RemovePendingMember(Group& g, const std::string& member_id);
  void PropagateAssignment(Group& g, protocol::ErrorCode error);
  void Heartbeated(GroupMember& m, int64_t now);
  // Checks memberId and instance id: FENCED_INSTANCE_ID or UNKNOWN_MEMBER_ID, or kNone.
  static protocol::ErrorCode ValidateMember(const Group& g, const std::string& member_id,
                                            const std::optional<std::string>& instance_id);

  // Checks metadata sizes and stamps the commit time; the records of the accepted items.
  std::vector<KeyValue> AcceptCommits(const std::string& group, protocol::ErrorCode group_error,
                                      std::vector<CommitItem>& items,
                                      std::vector<CommitItem*>* accepted);

  // Persisting and timers.
  // Appends records; a failure maps to Kafka's coordinator errors, `too_large` for records
  // the offsets topic refuses by size.
  protocol::ErrorCode Store(
      const std::vector<KeyValue>& records, const TxnProducer* producer = nullptr,
      protocol::ErrorCode too_large = protocol::ErrorCode::kUnknownServerError);
  protocol::ErrorCode StoreGroup(const Group& g);
  void Arm(Group& g);
  void OnTimer(const std::string& group_id);
  void RemoveGroup(const std::string& id);

  std::string NewMemberId(const std::string& prefix);

  Clock& clock_;
  Append append_;
  Schedule schedule_;
  GroupConfig config_;
  uint64_t id_seed_;
  absl::flat_hash_map<std::string, std::unique_ptr<Group>> groups_;
  // Transactional offsets waiting for their producer's marker: producer -> group -> offsets.
  using PendingOffsets = absl::flat_hash_map<std::string, ClassicGroup::Offsets>;
  absl::flat_hash_map<int64_t, PendingOffsets> pending_txn_;
};

}  // namespace fjord::coordinator
