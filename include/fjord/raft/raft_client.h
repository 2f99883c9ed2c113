#pragma once
// The metadata quorum as the controller sees it: append as the leader, read what is
// committed. Today one voter (SingleVoterRaft: commit = an fsynced append); a multi-voter
// Raft replaces only this seam. It knows nothing of what the records mean.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/clock.h"
#include "fjord/base/types.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {
class Log;
}

namespace fjord::raft {

struct CommittedBatch {
  Offset base_offset{0};
  Offset last_offset{0};
  LeaderEpoch epoch{0};
  bool is_control = false;
  std::vector<std::vector<uint8_t>> records;  // record values (control: empty)
};

class RaftClient {
 public:
  virtual ~RaftClient() = default;
  // Appends `records` (values; keys are null) as one batch in the current epoch and
  // blocks until it is committed; returns the offset of its last record. Fails with
  // FailedPrecondition when this node does not lead, and with the storage error
  // otherwise. Call it off the event loops (it fsyncs).
  virtual absl::StatusOr<Offset> AppendAndCommit(std::vector<std::vector<uint8_t>> records) = 0;
  // Calls fn for each committed batch with base_offset >= from, in order.
  virtual absl::Status ReadCommitted(
      Offset from, const std::function<absl::Status(const CommittedBatch&)>& fn) = 0;
  virtual Offset HighWatermark() const = 0;  // the offset after the last committed one
  virtual LeaderEpoch Epoch() const = 0;
  virtual std::optional<NodeId> Leader() const = 0;
  virtual std::vector<NodeId> Voters() const = 0;
};

// A quorum of one voter: this node. At Open it reads `quorum-state` beside the log (JSON,
// after Kafka's QuorumStateData), starts the next leader epoch and persists it before
// serving; every batch carries that epoch. The log is __cluster_metadata-0, kept forever.
class SingleVoterRaft : public RaftClient {
 public:
  struct Params {
    storage::FileSystem* fs = nullptr;
    Clock* clock = nullptr;
    std::string metadata_log_dir;  // holds __cluster_metadata-0/
    NodeId node_id{1};
  };
  static absl::StatusOr<std::unique_ptr<SingleVoterRaft>> Open(const Params& params);
  ~SingleVoterRaft() override;
  absl::Status Close();  // flushes and closes the log

  absl::StatusOr<Offset> AppendAndCommit(std::vector<std::vector<uint8_t>> records) override;
  absl::Status ReadCommitted(Offset from,
                             const std::function<absl::Status(const CommittedBatch&)>& fn) override;
  Offset HighWatermark() const override;
  LeaderEpoch Epoch() const override { return epoch_; }
  std::optional<NodeId> Leader() const override { return node_id_; }
  std::vector<NodeId> Voters() const override { return {node_id_}; }

 private:
  SingleVoterRaft(Params params, std::unique_ptr<storage::Log> log, LeaderEpoch epoch);

  Params params_;
  NodeId node_id_;
  LeaderEpoch epoch_;
  mutable std::mutex mu_;  // serialises appends
  std::unique_ptr<storage::Log> log_;
};

// quorum-state: the leader epoch a node last served in (-1 when the file is missing).
// A malformed file is an error naming it.
absl::StatusOr<LeaderEpoch> ReadQuorumEpoch(storage::FileSystem& fs, const std::string& path);
absl::Status WriteQuorumState(storage::FileSystem& fs, const std::string& path, NodeId leader,
                              LeaderEpoch epoch);

}  // namespace fjord::raft
