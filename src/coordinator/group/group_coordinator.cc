#include "fjord/coordinator/group_coordinator.h"

#include "absl/strings/str_cat.h"
#include "fjord/cluster/partition.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/config/broker_config.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

// Replays records from `next` up to `end`, at most `max_bytes` of them, into `shard`.
// Advances `next`; fails on a record that does not decode.
absl::Status LoadChunk(cluster::Partition& p, GroupShard& shard, Offset* next, Offset end,
                       uint64_t max_bytes, size_t* records) {
  absl::StatusOr<storage::LogReadResult> read = p.log().Read(*next, max_bytes, end, true);
  if (!read.ok()) return read.status();
  absl::StatusOr<std::vector<uint8_t>> bytes = storage::ReadRegions(read->regions);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty()) {
    *next = end;  // nothing readable below the end: done
    return absl::OkStatus();
  }
  protocol::RecordBatchIterator it(*bytes);
  while (it.Next()) {
    const protocol::RecordBatchView& b = it.batch();
    *next = b.header().next_offset();
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
  return it.status();
}

}  // namespace

struct GroupCoordinator::LoadedShard {
  ~LoadedShard() {
    if (expiry) expiry->Cancel();
  }
  std::shared_ptr<storage::Log> log;  // the log it was loaded from
  std::unique_ptr<GroupShard> shard;
  bool loading = true;
  Offset next{0};  // loading: the next offset to replay, up to `end`
  Offset end{0};
  size_t records = 0;
  std::shared_ptr<net::Timer> expiry;
};

GroupCoordinator::GroupCoordinator(net::EventLoops& loops, cluster::ReplicaManager& replicas,
                                   controller::QuorumController& controller,
                                   const config::BrokerConfig& config, Clock& clock)
    : loops_(loops),
      replicas_(replicas),
      controller_(controller),
      config_(config),
      clock_(clock),
      shards_(loops.size()) {
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
  WithPartition(partition, false, std::move(fn));
}

void GroupCoordinator::WithPartition(int32_t partition, bool skip_unled,
                                     std::function<void(GroupShard*, ErrorCode)> fn) {
  storage::TopicPartition tp{kOffsetsTopic, PartitionId(partition)};
  const size_t loop = replicas_.LoopOf(tp);
  loops_.Post(loop, [this, tp, loop, partition, skip_unled, fn = std::move(fn)] {
    if (shutting_down_.load()) return fn(nullptr, ErrorCode::kNotCoordinator);
    cluster::Partition* p = replicas_.Get(tp);
    if (p == nullptr || !p->IsLeader()) {
      if (skip_unled) return fn(nullptr, ErrorCode::kNone);
      fn(nullptr, p == nullptr ? ErrorCode::kCoordinatorNotAvailable : ErrorCode::kNotCoordinator);
      return;
    }
    ErrorCode error = ErrorCode::kNone;
    GroupShard* shard = ShardOn(loop, partition, *p, &error);
    fn(shard, error);
  });
}

void GroupCoordinator::ForEachShard(const metadata::MetadataImage& image,
                                    std::function<void(GroupShard*, ErrorCode)> fn,
                                    std::function<void()> done) {
  const metadata::TopicImage* t = image.TopicByName(kOffsetsTopic);
  const size_t n = t == nullptr ? 0 : t->partitions.size();
  if (n == 0) {
    done();
    return;
  }
  auto pending = std::make_shared<std::atomic<size_t>>(n);
  auto shared_fn = std::make_shared<decltype(fn)>(std::move(fn));
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  for (size_t i = 0; i < n; ++i) {
    WithPartition(static_cast<int32_t>(i), true,
                  [pending, shared_fn, shared_done](GroupShard* shard, ErrorCode e) {
                    if (shard != nullptr || e != ErrorCode::kNone) (*shared_fn)(shard, e);
                    if (pending->fetch_sub(1) == 1) (*shared_done)();
                  });
  }
}

void GroupCoordinator::Shutdown() {
  shutting_down_.store(true);
  for (size_t loop = 0; loop < shards_.size(); ++loop) {
    loops_.Post(loop, [this, loop] {
      for (auto& [partition, slot] : shards_[loop]) {
        if (slot->expiry) slot->expiry->Cancel();
        slot->expiry.reset();
        slot->shard->Unload();
      }
    });
  }
}

GroupShard* GroupCoordinator::ShardOn(size_t loop, int32_t partition, cluster::Partition& p,
                                      ErrorCode* error) {
  auto& slot = shards_[loop][partition];
  if (slot && slot->log == p.shared_log()) {
    if (!slot->loading) return slot->shard.get();
    *error = ErrorCode::kCoordinatorLoadInProgress;
    return nullptr;
  }
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
  auto schedule = [this, loop](int64_t delay_ms, std::function<void()> task) {
    return loops_.RunAfter(loop, std::chrono::milliseconds(delay_ms), std::move(task));
  };
  if (slot) slot->shard->Unload();  // the log was replaced: its groups are gone
  slot = std::make_unique<LoadedShard>();
  slot->log = p.shared_log();
  slot->shard =
      std::make_unique<GroupShard>(clock_, std::move(append), std::move(schedule), group_config_);
  slot->next = p.log().log_start_offset();
  slot->end = p.high_watermark();
  if (LoadStep(loop, partition)) return shards_[loop][partition]->shard.get();
  *error = shards_[loop][partition] ? ErrorCode::kCoordinatorLoadInProgress
                                    : ErrorCode::kCoordinatorNotAvailable;
  return nullptr;
}

bool GroupCoordinator::LoadStep(size_t loop, int32_t partition) {
  auto& slot = shards_[loop][partition];
  storage::TopicPartition tp{kOffsetsTopic, PartitionId(partition)};
  cluster::Partition* p = replicas_.Get(tp);
  if (p == nullptr || p->shared_log() != slot->log) {
    slot.reset();  // replaced or gone while loading; the next request starts over
    return false;
  }
  const auto chunk = static_cast<uint64_t>(std::max(config_.GetInt("offsets.load.buffer.size"), 1));
  if (slot->next.value < slot->end.value) {
    absl::Status s = LoadChunk(*p, *slot->shard, &slot->next, slot->end, chunk, &slot->records);
    if (!s.ok()) {
      Logger().error("cannot load {}-{}: {}", kOffsetsTopic, partition, s.message());
      slot.reset();
      return false;
    }
  }
  if (slot->next.value < slot->end.value) {
    loops_.Post(loop, [this, loop, partition] {
      auto it = shards_[loop].find(partition);
      if (it != shards_[loop].end() && it->second && it->second->loading) LoadStep(loop, partition);
    });
    return false;
  }
  slot->loading = false;
  slot->shard->FinishLoad();
  Logger().info("loaded {}-{}: {} records, {} groups", kOffsetsTopic, partition, slot->records,
                slot->shard->groups().size());
  ScheduleExpiry(loop, partition);
  return true;
}

void GroupCoordinator::ScheduleExpiry(size_t loop, int32_t partition) {
  auto& slot = shards_[loop][partition];
  const int64_t interval = config_.GetLong("offsets.retention.check.interval.ms");
  slot->expiry =
      loops_.RunAfter(loop, std::chrono::milliseconds(interval), [this, loop, partition] {
        auto it = shards_[loop].find(partition);
        if (it == shards_[loop].end() || !it->second || it->second->loading) return;
        it->second->shard->ExpireOffsets();
        ScheduleExpiry(loop, partition);
      });
}

}  // namespace fjord::coordinator
