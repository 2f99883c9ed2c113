#include "fjord/coordinator/group_coordinator.h"

#include "absl/strings/str_cat.h"
#include "fjord/cluster/partition.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/config/broker_config.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

GroupCoordinator::GroupCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                                   controller::QuorumController& controller,
                                   const config::BrokerConfig& config, Clock& clock)
    : controller_(controller),
      config_(config),
      clock_(clock),
      host_(loops, replicas,
            ShardHost::Options{
                .topic = kOffsetsTopic,
                .logger = "group-coordinator",
                .load_buffer_bytes =
                    static_cast<uint64_t>(std::max(config.GetInt("offsets.load.buffer.size"), 1)),
                .tick_interval_ms = config.GetLong("offsets.retention.check.interval.ms"),
                .make = [this](int32_t partition, size_t loop,
                               LeaderEpoch) { return MakeShard(partition, loop); },
            }) {
  group_config_.min_session_timeout_ms = config.GetInt("group.min.session.timeout.ms");
  group_config_.max_session_timeout_ms = config.GetInt("group.max.session.timeout.ms");
  group_config_.initial_rebalance_delay_ms = config.GetInt("group.initial.rebalance.delay.ms");
  group_config_.max_size = config.GetInt("group.max.size");
  group_config_.offsets_retention_ms = int64_t{config.GetInt("offsets.retention.minutes")} * 60000;
  group_config_.max_metadata_bytes =
      static_cast<size_t>(std::max(config.GetInt("offset.metadata.max.bytes"), 0));
}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::EnsureOffsetsTopic(const metadata::MetadataImage& image,
                                          std::function<void(ErrorCode)> done) {
  EnsureInternalTopic(
      controller_, image, kOffsetsTopic, config_.GetInt("offsets.topic.num.partitions"),
      static_cast<int16_t>(config_.GetInt("offsets.topic.replication.factor")),
      {{"cleanup.policy", "compact"},
       {"compression.type", "producer"},
       {"segment.bytes", std::to_string(config_.GetInt("offsets.topic.segment.bytes"))}},
      std::move(done));
}

int32_t GroupCoordinator::PartitionOf(const metadata::MetadataImage& image,
                                      std::string_view group) {
  return PartitionOfKey(image, kOffsetsTopic, group);
}

std::unique_ptr<CoordinatorShard> GroupCoordinator::MakeShard(int32_t partition, size_t loop) {
  auto append = [this, partition](const std::vector<KeyValue>& records,
                                  const TxnProducer* producer) {
    std::optional<std::pair<ProducerId, ProducerEpoch>> as;
    if (producer != nullptr) as.emplace(producer->id, producer->epoch);
    return host_.AppendRecords(partition, records, clock_.NowMs(), as,
                               producer != nullptr ? producer->verification : std::nullopt);
  };
  auto schedule = [this, loop](int64_t delay_ms, std::function<void()> task) {
    return host_.Schedule(loop, delay_ms, std::move(task));
  };
  return std::make_unique<GroupShard>(clock_, std::move(append), std::move(schedule),
                                      group_config_);
}

void GroupCoordinator::WithGroup(const metadata::MetadataImage& image, const std::string& group,
                                 std::function<void(GroupShard*, ErrorCode)> fn) {
  host_.WithKey(image, group, [fn = std::move(fn)](CoordinatorShard* s, ErrorCode e) {
    fn(static_cast<GroupShard*>(s), e);
  });
}

void GroupCoordinator::ForEachShard(const metadata::MetadataImage& image,
                                    std::function<void(GroupShard*, ErrorCode)> fn,
                                    std::function<void()> done) {
  host_.ForEachShard(
      image,
      [fn = std::move(fn)](CoordinatorShard* s, ErrorCode e) {
        fn(static_cast<GroupShard*>(s), e);
      },
      std::move(done));
}

void GroupCoordinator::OnTopicsDeleted(const metadata::MetadataImage& image,
                                       std::set<std::string> topics) {
  auto shared = std::make_shared<const std::set<std::string>>(std::move(topics));
  ForEachShard(
      image,
      [shared](GroupShard* shard, ErrorCode) {
        if (shard != nullptr) shard->OnTopicsDeleted(*shared);
      },
      [] {});
}

void GroupCoordinator::WriteTxnMarker(int32_t partition, ProducerId producer, ProducerEpoch epoch,
                                      bool commit, int32_t coordinator_epoch,
                                      std::function<void(ErrorCode)> done) {
  host_.WithPartition(
      partition, false, [=, this, done = std::move(done)](CoordinatorShard* s, ErrorCode e) {
        if (s == nullptr) return done(e);
        auto info = host_.AppendMarker(partition, producer, epoch, commit, coordinator_epoch,
                                       clock_.NowMs());
        if (!info.ok())
          return done(storage::AppendErrorCode(storage::AppendErrorOf(info.status())));
        static_cast<GroupShard*>(s)->CompleteTxn(producer, commit);
        done(ErrorCode::kNone);
      });
}

void GroupCoordinator::Shutdown() { host_.Shutdown(); }

}  // namespace fjord::coordinator
