#include "fjord/coordinator/txn_coordinator.h"

#include <algorithm>
#include <atomic>

#include "fjord/cluster/partition.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/config/broker_config.h"
#include "fjord/coordinator/group_coordinator.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

using txn_internal::Logger;

// Errors after which a marker is tried again: the partition or its group shard is on its
// way (leadership, loading) or the disk hiccuped.
bool Retriable(ErrorCode e) {
  switch (e) {
    case ErrorCode::kNotLeaderOrFollower:
    case ErrorCode::kCoordinatorLoadInProgress:
    case ErrorCode::kNotCoordinator:
    case ErrorCode::kCoordinatorNotAvailable:
    case ErrorCode::kNotEnoughReplicas:
    case ErrorCode::kKafkaStorageError:
      return true;
    default:
      return false;
  }
}

constexpr int64_t kMarkerRetryMinMs = 50;
constexpr int64_t kMarkerRetryMaxMs = 2000;

}  // namespace

// The markers of one transaction being written, shared by the per-partition writes.
struct TxnCoordinator::MarkerWrite {
  TxnMarkers markers;
  size_t home;
  std::function<void()> done;
  std::atomic<size_t> pending{0};
};

TxnCoordinator::TxnCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                               controller::QuorumController& controller,
                               const config::BrokerConfig& config, Clock& clock,
                               GroupCoordinator& groups, AllocateProducerId allocate)
    : loops_(loops),
      replicas_(replicas),
      controller_(controller),
      config_(config),
      clock_(clock),
      groups_(groups),
      allocate_(std::move(allocate)),
      host_(loops, replicas,
            ShardHost::Options{
                .topic = kTransactionStateTopic,
                .logger = "txn-coordinator",
                .load_buffer_bytes = static_cast<uint64_t>(
                    std::max(config.GetInt("transaction.state.log.load.buffer.size"), 1)),
                .tick_interval_ms =
                    config.GetInt("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
                .make = [this](int32_t partition, size_t loop,
                               LeaderEpoch epoch) { return MakeShard(partition, loop, epoch); },
            }) {
  txn_config_.max_timeout_ms = config.GetInt("transaction.max.timeout.ms");
  txn_config_.id_expiration_ms = config.GetInt("transactional.id.expiration.ms");
}

TxnCoordinator::~TxnCoordinator() = default;

void TxnCoordinator::EnsureTopic(const metadata::MetadataImage& image,
                                 std::function<void(ErrorCode)> done) {
  EnsureInternalTopic(
      controller_, image, kTransactionStateTopic,
      config_.GetInt("transaction.state.log.num.partitions"),
      static_cast<int16_t>(config_.GetInt("transaction.state.log.replication.factor")),
      {{"cleanup.policy", "compact"},
       {"compression.type", "uncompressed"},
       {"min.insync.replicas", std::to_string(config_.GetInt("transaction.state.log.min.isr"))},
       {"segment.bytes", std::to_string(config_.GetInt("transaction.state.log.segment.bytes"))}},
      std::move(done));
}

int32_t TxnCoordinator::PartitionOf(const metadata::MetadataImage& image, std::string_view id) {
  return PartitionOfKey(image, kTransactionStateTopic, id);
}

void TxnCoordinator::WithTxn(const metadata::MetadataImage& image, const std::string& id,
                             std::function<void(TxnShard*, ErrorCode)> fn) {
  host_.WithKey(image, id, [fn = std::move(fn)](CoordinatorShard* s, ErrorCode e) {
    fn(static_cast<TxnShard*>(s), e);
  });
}

void TxnCoordinator::ForEachShard(const metadata::MetadataImage& image,
                                  std::function<void(TxnShard*, ErrorCode)> fn,
                                  std::function<void()> done) {
  host_.ForEachShard(
      image,
      [fn = std::move(fn)](CoordinatorShard* s, ErrorCode e) { fn(static_cast<TxnShard*>(s), e); },
      std::move(done));
}

void TxnCoordinator::Shutdown() { host_.Shutdown(); }

std::unique_ptr<CoordinatorShard> TxnCoordinator::MakeShard(int32_t partition, size_t loop,
                                                            LeaderEpoch leader_epoch) {
  auto append = [this, partition](const KeyValue& kv) {
    return host_.AppendRecords(partition, std::span<const KeyValue>(&kv, 1), clock_.NowMs());
  };
  auto allocate = [this, loop](std::function<void(absl::StatusOr<int64_t>)> done) {
    allocate_([this, loop, done = std::move(done)](absl::StatusOr<int64_t> id) mutable {
      loops_.Post(loop, [done = std::move(done), id = std::move(id)] { done(id); });
    });
  };
  auto write = [this, loop](TxnMarkers m, std::function<void()> done) {
    WriteMarkers(loop, std::move(m), std::move(done));
  };
  return std::make_unique<TxnShard>(clock_, leader_epoch.value, std::move(append),
                                    std::move(allocate), std::move(write), txn_config_);
}

void TxnCoordinator::WriteMarkers(size_t home, TxnMarkers markers, std::function<void()> done) {
  auto write = std::make_shared<MarkerWrite>();
  write->home = home;
  write->done = std::move(done);
  write->pending = markers.partitions.size();
  write->markers = std::move(markers);
  if (write->markers.partitions.empty()) {
    loops_.Post(home, write->done);
    return;
  }
  for (size_t i = 0; i < write->markers.partitions.size(); ++i) WriteMarker(write, i, 0);
}

void TxnCoordinator::WriteMarker(std::shared_ptr<MarkerWrite> write, size_t index, int attempt) {
  if (host_.shutting_down()) return;
  const auto& [topic, partition] = write->markers.partitions[index];
  auto settle = [this, write, index, attempt](ErrorCode e) {
    const auto& [topic, partition] = write->markers.partitions[index];
    if (e != ErrorCode::kNone && Retriable(e)) {
      const int64_t delay = std::min(kMarkerRetryMaxMs, kMarkerRetryMinMs << std::min(attempt, 6));
      loops_.RunAfter(write->home, std::chrono::milliseconds(delay),
                      [this, write, index, attempt] { WriteMarker(write, index, attempt + 1); });
      return;
    }
    if (e != ErrorCode::kNone) {
      Logger().warn("no {} marker for producer {} in {}-{}: {}",
                    write->markers.commit ? "COMMIT" : "ABORT", write->markers.producer_id.value,
                    topic, partition, protocol::ErrorName(e));
    }
    if (write->pending.fetch_sub(1) == 1) loops_.Post(write->home, write->done);
  };
  const TxnMarkers& m = write->markers;
  AppendMarker(topic, partition, m.producer_id, m.epoch, m.commit, m.coordinator_epoch,
               std::move(settle));
}

void TxnCoordinator::AppendMarker(const std::string& topic, int32_t partition,
                                  ProducerId producer_id, ProducerEpoch epoch, bool commit,
                                  int32_t coordinator_epoch, std::function<void(ErrorCode)> done) {
  if (topic == kOffsetsTopic) {
    groups_.WriteTxnMarker(partition, producer_id, epoch, commit, coordinator_epoch,
                           std::move(done));
    return;
  }
  storage::TopicPartition tp{topic, PartitionId(partition)};
  const size_t loop = replicas_.LoopOf(tp);
  loops_.Post(loop, [this, tp, producer_id, epoch, commit, coordinator_epoch,
                     done = std::move(done)] {
    cluster::Partition* p = replicas_.Get(tp);
    if (p == nullptr) return done(ErrorCode::kUnknownTopicOrPartition);
    if (!p->IsLeader()) return done(ErrorCode::kNotLeaderOrFollower);
    auto info = p->AppendTxnMarker(producer_id, epoch, commit, coordinator_epoch, clock_.NowMs());
    done(info.ok() ? ErrorCode::kNone
                   : storage::AppendErrorCode(storage::AppendErrorOf(info.status())));
  });
}

}  // namespace fjord::coordinator
