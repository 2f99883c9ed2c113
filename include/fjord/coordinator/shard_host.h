#pragma once
// Where a coordinator's state lives: one shard per partition of its internal topic
// (__consumer_offsets for groups, __transaction_state for transactions). The node leading
// a partition coordinates the keys that hash to it; the shard lives on the event loop
// that owns the partition, so it is touched without locks like the partition itself.
//
// A shard is loaded by replaying its partition the first time a request needs it, and
// again whenever the partition's log is replaced (the topic was deleted and re-created).
// Loading replays `load_buffer_bytes` per event-loop turn; requests that arrive meanwhile
// get COORDINATOR_LOAD_IN_PROGRESS. Each loaded shard's Tick runs every tick interval.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "fjord/coordinator/key_value.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log_validator.h"
#include "fjord/storage/producer_state.h"

namespace fjord::net {
class EventLoops;
class Timer;
}  // namespace fjord::net
namespace fjord::cluster {
class ReplicaManager;
class Partition;
}  // namespace fjord::cluster

namespace fjord::controller {
class QuorumController;
}
namespace fjord::metadata {
class MetadataImage;
}

namespace fjord::coordinator {

// Creates a coordinator's internal topic unless the image has it; done(kNone) once it
// exists, on the controller's thread. The replication factor is capped at the live brokers.
void EnsureInternalTopic(controller::QuorumController& controller,
                         const metadata::MetadataImage& image, const std::string& topic,
                         int32_t partitions, int16_t replication_factor,
                         std::map<std::string, std::string> configs,
                         std::function<void(protocol::ErrorCode)> done);

// The state of one partition of a coordinator's topic. Lives on the partition's loop.
class CoordinatorShard {
 public:
  virtual ~CoordinatorShard() = default;
  // Loading: applies one batch read from the log (data or control). A record the shard
  // cannot read is skipped and counted in unreadable_records (the first few logged), so
  // one bad record never takes every group or transactional id of the partition away;
  // an error means the whole batch is unreadable, and the host skips it.
  virtual absl::Status ReplayBatch(const protocol::RecordBatchView& batch) = 0;
  // After the last batch: the shard serves requests from now on.
  virtual void FinishLoad() = 0;
  // The shard is going away (shutdown, or the log was replaced): parked requests are
  // answered and timers stop.
  virtual void Unload() = 0;
  // Periodic work (offset expiry, transaction timeouts).
  virtual void Tick() {}
  // What the shard holds, for the "loaded" log line ("12 groups").
  virtual std::string Summary() const = 0;

  // Records (or, counted by the host, whole batches) skipped while loading.
  size_t unreadable_records = 0;
  // Whether to log the next unreadable record: the first kLoggedUnreadable are.
  bool LogUnreadable() { return ++unreadable_records <= kLoggedUnreadable; }
  static constexpr size_t kLoggedUnreadable = 10;
};

// The partition of `topic` that `key` maps to by Kafka's hash (the one groups use, for
// transactional ids too); -1 while the topic does not exist.
int32_t PartitionOfKey(const metadata::MetadataImage& image, std::string_view topic,
                       std::string_view key);

class ShardHost {
 public:
  struct Options {
    std::string topic;
    std::string logger;  // the named logger of the coordinator
    uint64_t load_buffer_bytes = 5 << 20;
    int64_t tick_interval_ms = 0;  // 0: no ticks
    // Makes the empty shard of one partition, on the partition's loop; the partition's
    // leader epoch is the coordinator's epoch (transaction markers carry it).
    std::function<std::unique_ptr<CoordinatorShard>(int32_t partition, size_t loop,
                                                    LeaderEpoch leader_epoch)>
        make;
  };

  ShardHost(net::EventLoops& loops, cluster::ReplicaManager& replicas, Options options);
  ~ShardHost();

  // Runs fn(shard, kNone) on the loop that owns `partition`, the shard loaded; or
  // fn(nullptr, error): COORDINATOR_NOT_AVAILABLE when this node does not host the
  // partition or cannot read it, NOT_COORDINATOR when it does not lead it (or is shutting
  // down), COORDINATOR_LOAD_IN_PROGRESS while the shard loads. With skip_unled, a
  // partition this node does not lead gives fn(nullptr, kNone).
  void WithPartition(int32_t partition, bool skip_unled,
                     std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn);
  // WithPartition for the partition `key` (a group or transactional id) maps to;
  // fn(nullptr, COORDINATOR_NOT_AVAILABLE) while the topic does not exist.
  void WithKey(const metadata::MetadataImage& image, std::string_view key,
               std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn);
  // Runs fn on each partition of the topic (as `image` has it) this node leads, each on
  // its loop (concurrently across loops), then done() on one of them. Unled partitions are
  // skipped; fn(nullptr, COORDINATOR_LOAD_IN_PROGRESS) for one still loading.
  void ForEachShard(const metadata::MetadataImage& image,
                    std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn,
                    std::function<void()> done);
  // Leader append of coordinator records to one of the topic's partitions, as one batch,
  // on its loop: what shards write through. With `producer` (id, epoch) it is that
  // producer's transactional batch, without sequence numbers (TxnOffsetCommit), appended
  // with `verification` (KIP-890, see storage::Log::AppendAsLeader).
  // kFailedPrecondition when this node no longer leads the partition.
  absl::Status AppendRecords(
      int32_t partition, std::span<const KeyValue> records, int64_t now_ms,
      std::optional<std::pair<ProducerId, ProducerEpoch>> producer = std::nullopt,
      std::optional<storage::VerificationGuard> verification = std::nullopt);
  // Writes a transaction marker to one of the topic's partitions, on its loop.
  absl::StatusOr<storage::LogAppendInfo> AppendMarker(int32_t partition, ProducerId producer,
                                                      ProducerEpoch epoch, bool commit,
                                                      int32_t coordinator_epoch, int64_t now_ms);
  // Runs task after delay_ms on `loop`.
  std::shared_ptr<net::Timer> Schedule(size_t loop, int64_t delay_ms, std::function<void()> task);
  size_t LoopOf(int32_t partition) const;

  // Unloads every shard and answers later requests NOT_COORDINATOR. Asynchronous.
  void Shutdown();
  bool shutting_down() const { return shutting_down_.load(); }

 private:
  struct Slot;
  cluster::Partition* Leading(int32_t partition);
  absl::Status NotLeading(int32_t partition) const;
  CoordinatorShard* ShardOn(size_t loop, int32_t partition, cluster::Partition& p,
                            protocol::ErrorCode* error);
  // One step of loading: true when the shard is loaded, false when more is to come (the
  // next step is posted); the slot is reset on failure.
  bool LoadStep(size_t loop, int32_t partition);
  void ScheduleTick(size_t loop, int32_t partition);

  net::EventLoops& loops_;
  cluster::ReplicaManager& replicas_;
  Options options_;
  std::atomic<bool> shutting_down_{false};
  // slots_[loop]: the shards of the partitions that loop owns; touched only there.
  std::vector<absl::flat_hash_map<int32_t, std::unique_ptr<Slot>>> slots_;
};

}  // namespace fjord::coordinator
