#include "fjord/cluster/partition.h"

#include <algorithm>

#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log_validator.h"

namespace fjord::cluster {

using protocol::ErrorCode;

Partition::Partition(storage::TopicPartition tp, protocol::Uuid topic_id,
                     std::shared_ptr<storage::Log> log, NodeId local_node, PartitionState state)
    : tp_(std::move(tp)),
      topic_id_(topic_id),
      log_(std::move(log)),
      local_node_(local_node),
      state_(std::move(state)) {
  // A restarted single replica owns everything in its log: the high watermark starts at the
  // log end offset (with followers it will come from the checkpoint and the ISR's fetches).
  MaybeIncrementHighWatermark();
}

void Partition::UpdateState(PartitionState state) {
  state_ = std::move(state);
  MaybeIncrementHighWatermark();
}

ErrorCode Partition::CheckLeaderEpoch(int32_t current_leader_epoch) const {
  if (current_leader_epoch < 0) return ErrorCode::kNone;
  if (current_leader_epoch < state_.leader_epoch.value) return ErrorCode::kFencedLeaderEpoch;
  if (current_leader_epoch > state_.leader_epoch.value) return ErrorCode::kUnknownLeaderEpoch;
  return ErrorCode::kNone;
}

ErrorCode Partition::CheckAcks(int16_t required_acks) const {
  if (required_acks != -1 && required_acks != 0 && required_acks != 1) {
    return ErrorCode::kInvalidRequiredAcks;
  }
  if (required_acks == -1 && static_cast<int32_t>(state_.isr.size()) < state_.min_insync_replicas) {
    return ErrorCode::kNotEnoughReplicas;
  }
  return ErrorCode::kNone;
}

absl::StatusOr<storage::LogAppendInfo> Partition::AppendAsLeader(
    std::span<uint8_t> records, storage::AppendOrigin origin,
    std::optional<storage::VerificationGuard> verification) {
  storage::Log::LeaderAppendOptions options;
  options.origin = origin;
  options.verification = verification;
  return AppendAsLeader(records, options);
}

absl::StatusOr<storage::LogAppendInfo> Partition::AppendAsLeader(
    std::span<uint8_t> records, const storage::Log::LeaderAppendOptions& options) {
  absl::StatusOr<storage::LogAppendInfo> info =
      log_->AppendAsLeader(records, state_.leader_epoch, options);
  if (info.ok()) {
    MaybeIncrementHighWatermark();
    NotifyWaiters();
  }
  return info;
}

absl::StatusOr<storage::LogAppendInfo> Partition::AppendTxnMarker(ProducerId producer_id,
                                                                  ProducerEpoch producer_epoch,
                                                                  bool commit,
                                                                  int32_t coordinator_epoch,
                                                                  int64_t now_ms) {
  protocol::EndTxnMarker marker{
      commit ? protocol::ControlRecordType::kCommit : protocol::ControlRecordType::kAbort,
      coordinator_epoch};
  std::vector<uint8_t> batch =
      protocol::BuildControlBatch(Offset(0), producer_id, producer_epoch, marker, now_ms);
  return AppendAsLeader(batch, storage::AppendOrigin::kCoordinator);
}

Offset Partition::last_stable_offset() const {
  std::optional<Offset> first_unstable = log_->FirstUnstableOffset();
  return first_unstable ? std::min(*first_unstable, high_watermark_) : high_watermark_;
}

void Partition::MaybeIncrementHighWatermark() {
  // The high watermark is the smallest log end offset in the ISR; with this node the only
  // replica that is its own log end offset.
  high_watermark_ = log_->log_end_offset();
}

PartitionRead Partition::Read(Offset fetch_offset, uint64_t max_bytes, bool read_committed,
                              bool min_one_message) const {
  PartitionRead out;
  out.high_watermark = high_watermark_;
  out.last_stable_offset = last_stable_offset();
  out.log_start_offset = log_->log_start_offset();
  const Offset max_offset = read_committed ? out.last_stable_offset : high_watermark_;
  if (fetch_offset < out.log_start_offset || fetch_offset > log_->log_end_offset()) {
    out.error = ErrorCode::kOffsetOutOfRange;
    return out;
  }
  if (fetch_offset >= max_offset) return out;  // nothing visible yet: an empty read
  absl::StatusOr<storage::LogReadResult> r =
      log_->Read(fetch_offset, max_bytes, max_offset, min_one_message);
  if (!r.ok()) {
    out.error = r.status().code() == absl::StatusCode::kOutOfRange ? ErrorCode::kOffsetOutOfRange
                                                                   : ErrorCode::kKafkaStorageError;
    return out;
  }
  out.data = std::move(*r);
  if (read_committed) {
    absl::StatusOr<std::vector<storage::AbortedTxn>> aborted =
        log_->CollectAbortedTxns(fetch_offset, max_offset);
    if (!aborted.ok()) {
      out.error = ErrorCode::kKafkaStorageError;
      out.data = {};
      return out;
    }
    out.aborted = std::move(*aborted);
  }
  return out;
}

void Partition::AddAppendWaiter(std::weak_ptr<void> token, std::function<void()> fn) {
  std::erase_if(waiters_, [](const Waiter& w) { return w.token.expired(); });
  waiters_.push_back(Waiter{std::move(token), std::move(fn)});
}

void Partition::NotifyWaiters() {
  if (waiters_.empty()) return;
  std::vector<Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  for (Waiter& w : waiters) {
    if (!w.token.expired()) w.fn();
  }
}

}  // namespace fjord::cluster
