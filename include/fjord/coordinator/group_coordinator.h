#pragma once
// Where groups live and how their state is reached. A group belongs to one partition of
// __consumer_offsets (PartitionForGroup); the node leading that partition is the group's
// coordinator, and the group's state (a GroupShard) lives in a ShardHost (shard_host.h):
// on the partition's event loop, loaded on first use, offsets.load.buffer.size bytes per
// loop turn. Each loaded shard expires old offsets every
// offsets.retention.check.interval.ms.
//
// __consumer_offsets is created on first use (FindCoordinator, OffsetCommit) with
// offsets.topic.num.partitions partitions, cleanup.policy=compact and
// offsets.topic.segment.bytes, its replication factor capped at the live brokers.

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fjord/base/clock.h"
#include "fjord/coordinator/group_shard.h"
#include "fjord/coordinator/shard_host.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::net {
class EventLoops;
}
namespace fjord::cluster {
class ReplicaManager;
class Partition;
}  // namespace fjord::cluster
namespace fjord::controller {
class QuorumController;
}
namespace fjord::config {
class BrokerConfig;
}
namespace fjord::metadata {
class MetadataImage;
}

namespace fjord::coordinator {

inline constexpr const char* kOffsetsTopic = "__consumer_offsets";

class GroupCoordinator {
 public:
  GroupCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                   controller::QuorumController& controller, const config::BrokerConfig& config,
                   Clock& clock);
  ~GroupCoordinator();

  // Creates __consumer_offsets unless the image has it; done(kNone) once it exists. Runs
  // done on the controller thread.
  void EnsureOffsetsTopic(const metadata::MetadataImage& image,
                          std::function<void(protocol::ErrorCode)> done);

  // The partition of __consumer_offsets a group maps to; -1 while the topic does not exist.
  static int32_t PartitionOf(const metadata::MetadataImage& image, std::string_view group);

  // Runs fn(shard, kNone) on the loop that owns the group's partition, the shard loaded;
  // or fn(nullptr, error): COORDINATOR_NOT_AVAILABLE while __consumer_offsets does not
  // exist or its partition cannot be read, NOT_COORDINATOR when this node does not lead it.
  // COORDINATOR_LOAD_IN_PROGRESS while the shard loads.
  void WithGroup(const metadata::MetadataImage& image, const std::string& group,
                 std::function<void(GroupShard*, protocol::ErrorCode)> fn);

  // Runs fn on every partition of __consumer_offsets this node leads, each on its loop
  // (concurrently across loops), then done() on one of them. Partitions this node does
  // not lead are skipped; fn(nullptr, COORDINATOR_LOAD_IN_PROGRESS) for one still loading.
  void ForEachShard(const metadata::MetadataImage& image,
                    std::function<void(GroupShard*, protocol::ErrorCode)> fn,
                    std::function<void()> done);

  // Topics were deleted: each shard this node leads drops their committed offsets and
  // rebalances the consumer groups subscribed to them (GroupShard::OnTopicsDeleted).
  // Asynchronous; a shard still loading is skipped.
  void OnTopicsDeleted(const metadata::MetadataImage& image, std::set<std::string> topics);

  // Writes a transaction marker (WriteTxnMarkers) to a partition of __consumer_offsets and
  // settles the producer's pending offsets in its shard; done(error) on that loop: the
  // shard's (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR...) or the append's.
  void WriteTxnMarker(int32_t partition, ProducerId producer, ProducerEpoch epoch, bool commit,
                      int32_t coordinator_epoch, std::function<void(protocol::ErrorCode)> done);

  // Answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR and stops the
  // timers, so a shutting-down broker is not held up by rebalances; later requests get
  // NOT_COORDINATOR too. Asynchronous.
  void Shutdown();

 private:
  std::unique_ptr<CoordinatorShard> MakeShard(int32_t partition, size_t loop);

  controller::QuorumController& controller_;
  const config::BrokerConfig& config_;
  Clock& clock_;
  GroupConfig group_config_;
  ShardHost host_;
};

}  // namespace fjord::coordinator
