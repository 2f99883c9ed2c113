#pragma once
// Where transactions live (KIP-98). A transactional id belongs to one partition of
// __transaction_state (Kafka's hash, as for groups); the node leading that partition is
// its transaction coordinator, and its state (a TxnShard) lives in a ShardHost on the
// partition's event loop, loaded on first use, transaction.state.log.load.buffer.size
// bytes per loop turn. Each loaded shard looks for timed-out transactions every
// transaction.abort.timed.out.transaction.cleanup.interval.ms.
//
// Markers: the coordinator writes each transaction's markers itself, on the loop of each
// partition (a __consumer_offsets partition through the GroupCoordinator, which settles
// the transaction's offsets there). Retriable failures (a partition not led yet, a group
// shard still loading) are retried with backoff until they succeed or the broker stops;
// a partition that no longer exists is skipped. With replication, partitions led by
// other brokers will get WriteTxnMarkers requests instead (served by AppendMarker).
//
// __transaction_state is created on first use (FindCoordinator, InitProducerId) with
// transaction.state.log.num.partitions partitions, cleanup.policy=compact and
// transaction.state.log.segment.bytes.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fjord/base/clock.h"
#include "fjord/coordinator/shard_host.h"
#include "fjord/coordinator/txn_shard.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::config {
class BrokerConfig;
}

namespace fjord::coordinator {

class GroupCoordinator;

class TxnCoordinator {
 public:
  // A fresh producer id; `done` may run on any thread.
  using AllocateProducerId = std::function<void(std::function<void(absl::StatusOr<int64_t>)>)>;

  TxnCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                 controller::QuorumController& controller, const config::BrokerConfig& config,
                 Clock& clock, GroupCoordinator& groups, AllocateProducerId allocate);
  ~TxnCoordinator();

  // Creates __transaction_state unless the image has it; done on the controller thread.
  void EnsureTopic(const metadata::MetadataImage& image,
                   std::function<void(protocol::ErrorCode)> done);
  // The partition of __transaction_state an id maps to; -1 while the topic does not exist.
  static int32_t PartitionOf(const metadata::MetadataImage& image, std::string_view id);

  // Runs fn(shard, kNone) on the loop of the id's partition, the shard loaded, or
  // fn(nullptr, error) as GroupCoordinator::WithGroup does.
  void WithTxn(const metadata::MetadataImage& image, const std::string& transactional_id,
               std::function<void(TxnShard*, protocol::ErrorCode)> fn);
  // Every shard this node leads (ListTransactions); see ShardHost::ForEachShard.
  void ForEachShard(const metadata::MetadataImage& image,
                    std::function<void(TxnShard*, protocol::ErrorCode)> fn,
                    std::function<void()> done);
  // Writes one transaction marker to a partition this node leads, on the partition's loop
  // (a __consumer_offsets partition through the GroupCoordinator, which settles the
  // transaction's offsets). `done` gets the append's error, on that loop. The coordinator's
  // own marker writes and WriteTxnMarkers requests both come here.
  void AppendMarker(const std::string& topic, int32_t partition, ProducerId producer_id,
                    ProducerEpoch epoch, bool commit, int32_t coordinator_epoch,
                    std::function<void(protocol::ErrorCode)> done);
  // Stops retrying markers and answers later requests NOT_COORDINATOR.
  void Shutdown();

 private:
  struct MarkerWrite;
  std::unique_ptr<CoordinatorShard> MakeShard(int32_t partition, size_t loop,
                                              LeaderEpoch leader_epoch);
  void WriteMarkers(size_t home, TxnMarkers markers, std::function<void()> done);
  void WriteMarker(std::shared_ptr<MarkerWrite> write, size_t index, int attempt);

  net::EventLoops& loops_;
  cluster::ReplicaManager& replicas_;
  controller::QuorumController& controller_;
  const config::BrokerConfig& config_;
  Clock& clock_;
  GroupCoordinator& groups_;
  AllocateProducerId allocate_;
  TxnConfig txn_config_;
  ShardHost host_;
};

}  // namespace fjord::coordinator
