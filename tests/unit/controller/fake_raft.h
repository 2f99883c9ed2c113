#pragma once
// An in-memory RaftClient for controller tests: committed batches in a vector, appends
// that can be made to fail.

#include <mutex>
#include <vector>

#include "fjord/raft/raft_client.h"

namespace fjord::controller {

class FakeRaft : public raft::RaftClient {
 public:
  absl::StatusOr<Offset> AppendAndCommit(std::vector<std::vector<uint8_t>> records) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_with_.ok()) return fail_with_;
    raft::CommittedBatch b;
    b.base_offset = Offset(next_);
    b.last_offset = Offset(next_ + static_cast<int64_t>(records.size()) - 1);
    b.epoch = LeaderEpoch(1);
    b.is_control = false;
    b.records = std::move(records);
    next_ = b.last_offset.value + 1;
    batches_.push_back(b);
    return b.last_offset;
  }
  absl::Status ReadCommitted(
      Offset from, const std::function<absl::Status(const raft::CommittedBatch&)>& fn) override {
    std::vector<raft::CommittedBatch> copy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      copy = batches_;
    }
    for (const raft::CommittedBatch& b : copy) {
      if (b.base_offset.value < from.value) continue;
      if (absl::Status s = fn(b); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  Offset HighWatermark() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return Offset(next_);
  }
  LeaderEpoch Epoch() const override { return LeaderEpoch(1); }
  std::optional<NodeId> Leader() const override { return NodeId(1); }
  std::vector<NodeId> Voters() const override { return {NodeId(1)}; }

  void FailAppends(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_with_ = std::move(status);
  }
  size_t batch_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_.size();
  }
  // Appends raw bytes as a batch (for corrupt-log tests).
  void AppendRaw(std::vector<uint8_t> value) {
    std::vector<std::vector<uint8_t>> v;
    v.push_back(std::move(value));
    (void)AppendAndCommit(std::move(v));
  }

 private:
  mutable std::mutex mu_;
  int64_t next_ = 0;
  std::vector<raft::CommittedBatch> batches_;
  absl::Status fail_with_;
};

}  // namespace fjord::controller
