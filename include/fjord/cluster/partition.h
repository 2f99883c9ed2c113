#pragma once
// One partition replica on this node: its log plus the replication state Kafka keeps for
// it (leader epoch, replicas, ISR, high watermark). Owned by exactly one event loop and
// touched only there (principle 3); the ReplicaManager creates it from the metadata image
// and posts it to its loop.
//
// Today every partition has one replica, this node, so the ISR is {this node} and the high
// watermark follows the log end offset on each append. The fields and checks are Kafka's
// so that followers, ISR changes and acks=all waits slot in with replication.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/wire.h"
#include "fjord/storage/log.h"

namespace fjord::cluster {

struct PartitionState {
  LeaderEpoch leader_epoch{0};
  NodeId leader{-1};
  std::vector<NodeId> replicas;
  std::vector<NodeId> isr;
  int32_t min_insync_replicas = 1;
};

// What a fetch read from one partition.
struct PartitionRead {
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  storage::LogReadResult data;
  Offset high_watermark{-1};
  Offset last_stable_offset{-1};
  Offset log_start_offset{-1};
  // read_committed: the aborted transactions among the records read (KIP-98).
  std::vector<storage::AbortedTxn> aborted;
};

class Partition {
 public:
  Partition(storage::TopicPartition tp, protocol::Uuid topic_id, std::shared_ptr<storage::Log> log,
            NodeId local_node, PartitionState state);

  const storage::TopicPartition& tp() const { return tp_; }
  const protocol::Uuid& topic_id() const { return topic_id_; }
  storage::Log& log() { return *log_; }
  const std::shared_ptr<storage::Log>& shared_log() const { return log_; }
  const PartitionState& state() const { return state_; }
  bool IsLeader() const { return state_.leader == local_node_; }

  Offset high_watermark() const { return high_watermark_; }
  // The last stable offset (KIP-98): the high watermark, or the first offset of the oldest
  // open transaction below it.
  Offset last_stable_offset() const;

  // Applies a new state from the metadata image (leader epoch, ISR, min ISR).
  void UpdateState(PartitionState state);

  // Checks the epoch a client believes current (KIP-320): -1 skips the check; an older one
  // is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH.
  protocol::ErrorCode CheckLeaderEpoch(int32_t current_leader_epoch) const;

  // Whether a produce with these acks may append: INVALID_REQUIRED_ACKS for anything but
  // -1, 0, 1; acks -1 needs |ISR| >= min.insync.replicas (NOT_ENOUGH_REPLICAS).
  protocol::ErrorCode CheckAcks(int16_t required_acks) const;
  // Leader append. Failures carry storage's AppendError (see storage/log_validator.h).
  // `options.verification`: see storage::Log::LeaderAppendOptions (KIP-890).
  absl::StatusOr<storage::LogAppendInfo> AppendAsLeader(
      std::span<uint8_t> records, storage::AppendOrigin origin = storage::AppendOrigin::kClient,
      std::optional<storage::VerificationGuard> verification = std::nullopt);
  absl::StatusOr<storage::LogAppendInfo> AppendAsLeader(
      std::span<uint8_t> records, const storage::Log::LeaderAppendOptions& options);
  // KIP-890: the guard a producer's first transactional batch here must be appended with
  // once its transaction coordinator has confirmed the partition is in the transaction; the
  // sentinel when the producer's transaction is already open here (no verification).
  storage::VerificationGuard StartTxnVerification(ProducerId producer_id, int32_t first_seq,
                                                  ProducerEpoch epoch) {
    return log_->StartTxnVerification(producer_id, first_seq, epoch);
  }
  // Writes a transaction marker (WriteTxnMarkers): ends the producer's transaction here.
  absl::StatusOr<storage::LogAppendInfo> AppendTxnMarker(ProducerId producer_id,
                                                         ProducerEpoch producer_epoch, bool commit,
                                                         int32_t coordinator_epoch, int64_t now_ms);

  // A consumer read: from fetch_offset, up to the high watermark (or the LSO for
  // read_committed), whole batches, at most max_bytes (the first batch whole when
  // min_one_message).
  PartitionRead Read(Offset fetch_offset, uint64_t max_bytes, bool read_committed,
                     bool min_one_message) const;

  // Runs `fn` once, on this partition's loop, after the next append, as long as `token`
  // is alive then. Expired registrations are dropped as new ones arrive.
  void AddAppendWaiter(std::weak_ptr<void> token, std::function<void()> fn);

 private:
  void MaybeIncrementHighWatermark();
  void NotifyWaiters();

  storage::TopicPartition tp_;
  protocol::Uuid topic_id_;
  std::shared_ptr<storage::Log> log_;
  NodeId local_node_;
  PartitionState state_;
  Offset high_watermark_{0};
  struct Waiter {
    std::weak_ptr<void> token;
    std::function<void()> fn;
  };
  std::vector<Waiter> waiters_;
};

}  // namespace fjord::cluster
