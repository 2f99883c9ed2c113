#include "fjord/coordinator/group_coordinator.h"

#include "absl/strings/str_cat.h"
#include "fjord/base/logging.h"
#include "fjord/cluster/partition.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/config/broker_config.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("group-coordinator");
  return logger;
}

constexpr uint64_t kLoadChunkBytes = 1 << 20;

// Replays the partition from its log start to its high watermark into `shard`.
absl::Status Load(cluster::Partition& p, GroupShard& shard, size_t* records) {
  Offset next = p.log().log_start_offset();
  const Offset end = p.high_watermark();
  while (next.value < end.value) {
    absl::StatusOr<storage::LogReadResult> read = p.log().Read(next, kLoadChunkBytes, end, true);
    if (!read.ok()) return read.status();
    absl::StatusOr<std::vector<uint8_t>> bytes = storage::ReadRegions(read->regions);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty()) break;
    protocol::RecordBatchIterator it(*bytes);
    while (it.Next()) {
      const protocol::RecordBatchView& b = it.batch();
      next = b.header().next_offset();
      if (b.header().is_control()) continue;
      protocol::RecordReader reader(b);
      while (reader.Next()) {
        const protocol::Record& rec = reader.record();
        if (!rec.key) continue;
        absl::StatusOr<GroupRecord> r = DecodeGroupRecord(*rec.key, rec.value);
        if (!r.ok()) {
          return absl::DataLossError(
              absl::StrCat("record at offset ", rec.offset.value, ": ", r.status().message()));
        }
        shard.Replay(*r);
        ++*records;
      }
      if (!reader.status().ok()) return reader.status();
    }
    if (!it.status().ok()) return it.status();
  }
  return absl::OkStatus();
}

}  // namespace

struct GroupCoordinator::LoadedShard {
  std::shared_ptr<storage::Log> log;  // the log it was loaded from
  std::unique_ptr<GroupShard> shard;
};

GroupCoordinator::GroupCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                                   controller::QuorumController& controller,
                                   const config::BrokerConfig& config, Clock& clock)
    : loops_(loops),
      replicas_(replicas),
      controller_(controller),
      config_(config),
      clock_(clock),
      shards_(loops.size()) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::EnsureOffsetsTopic(const metadata::MetadataImage& image,
                                          std::function<void(ErrorCode)> done) {
  if (image.TopicByName(kOffsetsTopic) != nullptr) {
    done(ErrorCode::kNone);
    return;
  }
  std::map<std::string, std::string> configs = {
      {"cleanup.policy", "compact"},
      {"compression.type", "producer"},
      {"segment.bytes", std::to_string(config_.GetInt("offsets.topic.segment.bytes"))},
  };
  controller_.CreateInternalTopic(
      kOffsetsTopic, config_.GetInt("offsets.topic.num.partitions"),
      static_cast<int16_t>(config_.GetInt("offsets.topic.replication.factor")), std::move(configs),
      [done = std::move(done)](ErrorCode e) {
        if (e != ErrorCode::kNone) {
          Logger().warn("creating {} failed: {}", kOffsetsTopic, protocol::ErrorName(e));
        }
        done(e);
      });
}

int32_t GroupCoordinator::PartitionOf(const metadata::MetadataImage& image,
                                      std::string_view group) {
  const metadata::TopicImage* t = image.TopicByName(kOffsetsTopic);
  if (t == nullptr || t->partitions.empty()) return -1;
  return PartitionForGroup(group, static_cast<int32_t>(t->partitions.size()));
}

void GroupCoordinator::WithGroup(const metadata::MetadataImage& image, const std::string& group,
                                 std::function<void(GroupShard*, ErrorCode)> fn) {
  const int32_t partition = PartitionOf(image, group);
  if (partition < 0) {
    fn(nullptr, ErrorCode::kCoordinatorNotAvailable);
    return;
  }
  storage::TopicPartition tp{kOffsetsTopic, PartitionId(partition)};
  const size_t loop = replicas_.LoopOf(tp);
  loops_.Post(loop, [this, tp, loop, partition, fn = std::move(fn)] {
    cluster::Partition* p = replicas_.Get(tp);
    if (p == nullptr || !p->IsLeader()) {
      fn(nullptr, p == nullptr ? ErrorCode::kCoordinatorNotAvailable : ErrorCode::kNotCoordinator);
      return;
    }
    ErrorCode error = ErrorCode::kNone;
    GroupShard* shard = ShardOn(loop, partition, *p, &error);
    fn(shard, error);
  });
}

GroupShard* GroupCoordinator::ShardOn(size_t loop, int32_t partition, cluster::Partition& p,
                                      ErrorCode* error) {
  auto& slot = shards_[loop][partition];
  if (slot && slot->log == p.shared_log()) return slot->shard.get();
  // The appends go to whichever Partition object leads the partition at the time.
  storage::TopicPartition tp = p.tp();
  auto append = [this, tp](const std::vector<KeyValue>& records) -> absl::Status {
    cluster::Partition* part = replicas_.Get(tp);
    if (part == nullptr || !part->IsLeader()) {
      return absl::FailedPreconditionError("not the leader of the offsets partition");
    }
    protocol::RecordBatchBuilder builder;
    const int64_t now = clock_.NowMs();
    for (const KeyValue& kv : records) {
      protocol::OptionalBytes value;
      if (kv.value) value = std::span<const uint8_t>(*kv.value);
      builder.Add(now, std::span<const uint8_t>(kv.key), value);
    }
    absl::StatusOr<std::vector<uint8_t>> batch = std::move(builder).Build();
    if (!batch.ok()) return batch.status();
    absl::StatusOr<storage::LogAppendInfo> info = part->AppendAsLeader(*batch);
    return info.ok() ? absl::OkStatus() : info.status();
  };
  auto loaded = std::make_unique<LoadedShard>();
  loaded->log = p.shared_log();
  loaded->shard = std::make_unique<GroupShard>(clock_, std::move(append));
  size_t records = 0;
  if (absl::Status s = Load(p, *loaded->shard, &records); !s.ok()) {
    Logger().error("cannot load {}-{}: {}", kOffsetsTopic, partition, s.message());
    slot.reset();
    *error = ErrorCode::kCoordinatorNotAvailable;
    return nullptr;
  }
  Logger().info("loaded {}-{}: {} records, {} groups", kOffsetsTopic, partition, records,
                loaded->shard->groups().size());
  slot = std::move(loaded);
  return slot->shard.get();
}

}  // namespace fjord::coordinator
