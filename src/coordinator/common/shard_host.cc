#include "fjord/coordinator/shard_host.h"

#include "absl/strings/str_cat.h"
#include "fjord/base/logging.h"
#include "fjord/cluster/partition.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/coordinator/group_records.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

// Replays batches from `next` up to `end`, at most `max_bytes` of them, into `shard`.
// Advances `next`. A batch the shard cannot apply is skipped and counted.
absl::Status LoadChunk(cluster::Partition& p, CoordinatorShard& shard, Offset* next, Offset end,
                       uint64_t max_bytes, size_t* batches, spdlog::logger& log) {
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
    if (absl::Status s = shard.ReplayBatch(b); !s.ok()) {
      if (shard.LogUnreadable()) {
        log.warn("{}: skipping the unreadable batch at offset {}: {}", p.tp().DirName(),
                 b.header().base_offset.value, s.message());
      }
      continue;
    }
    ++*batches;
  }
  return it.status();
}

}  // namespace

void EnsureInternalTopic(controller::QuorumController& controller,
                         const metadata::MetadataImage& image, const std::string& topic,
                         int32_t partitions, int16_t replication_factor,
                         std::map<std::string, std::string> configs,
                         std::function<void(ErrorCode)> done) {
  if (image.TopicByName(topic) != nullptr) {
    done(ErrorCode::kNone);
    return;
  }
  controller.CreateInternalTopic(
      topic, partitions, replication_factor, std::move(configs),
      [topic, done = std::move(done)](ErrorCode e) {
        if (e != ErrorCode::kNone) {
          NamedLogger("controller").warn("creating {} failed: {}", topic, protocol::ErrorName(e));
        }
        done(e);
      });
}

struct ShardHost::Slot {
  ~Slot() {
    if (tick) tick->Cancel();
  }
  std::shared_ptr<storage::Log> log;  // the log it was loaded from
  std::unique_ptr<CoordinatorShard> shard;
  bool loading = true;
  Offset next{0};  // loading: the next offset to replay, up to `end`
  Offset end{0};
  size_t batches = 0;
  std::shared_ptr<net::Timer> tick;
};

ShardHost::ShardHost(net::EventLoops& loops, cluster::ReplicaManager& replicas, Options options)
    : loops_(loops), replicas_(replicas), options_(std::move(options)), slots_(loops.size()) {}

ShardHost::~ShardHost() = default;

size_t ShardHost::LoopOf(int32_t partition) const {
  return replicas_.LoopOf(storage::TopicPartition{options_.topic, PartitionId(partition)});
}

void ShardHost::WithPartition(int32_t partition, bool skip_unled,
                              std::function<void(CoordinatorShard*, ErrorCode)> fn) {
  storage::TopicPartition tp{options_.topic, PartitionId(partition)};
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
    CoordinatorShard* shard = ShardOn(loop, partition, *p, &error);
    fn(shard, error);
  });
}

int32_t PartitionOfKey(const metadata::MetadataImage& image, std::string_view topic,
                       std::string_view key) {
  const metadata::TopicImage* t = image.TopicByName(topic);
  if (t == nullptr || t->partitions.empty()) return -1;
  return PartitionForGroup(key, static_cast<int32_t>(t->partitions.size()));
}

void ShardHost::WithKey(const metadata::MetadataImage& image, std::string_view key,
                        std::function<void(CoordinatorShard*, ErrorCode)> fn) {
  const int32_t partition = PartitionOfKey(image, options_.topic, key);
  if (partition < 0) {
    fn(nullptr, ErrorCode::kCoordinatorNotAvailable);
    return;
  }
  WithPartition(partition, false, std::move(fn));
}

void ShardHost::ForEachShard(const metadata::MetadataImage& image,
                             std::function<void(CoordinatorShard*, ErrorCode)> fn,
                             std::function<void()> done) {
  const metadata::TopicImage* t = image.TopicByName(options_.topic);
  const size_t partitions = t == nullptr ? 0 : t->partitions.size();
  if (partitions == 0) {
    done();
    return;
  }
  auto pending = std::make_shared<std::atomic<size_t>>(partitions);
  auto shared_fn = std::make_shared<decltype(fn)>(std::move(fn));
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  for (size_t i = 0; i < partitions; ++i) {
    WithPartition(static_cast<int32_t>(i), true,
                  [pending, shared_fn, shared_done](CoordinatorShard* shard, ErrorCode e) {
                    if (shard != nullptr || e != ErrorCode::kNone) (*shared_fn)(shard, e);
                    if (pending->fetch_sub(1) == 1) (*shared_done)();
                  });
  }
}

cluster::Partition* ShardHost::Leading(int32_t partition) {
  // The appends go to whichever Partition object leads the partition at the time.
  cluster::Partition* p =
      replicas_.Get(storage::TopicPartition{options_.topic, PartitionId(partition)});
  return p != nullptr && p->IsLeader() ? p : nullptr;
}

absl::Status ShardHost::NotLeading(int32_t partition) const {
  return absl::FailedPreconditionError(
      absl::StrCat("not the leader of ", options_.topic, "-", partition));
}

absl::Status ShardHost::AppendRecords(int32_t partition, std::span<const KeyValue> records,
                                      int64_t now_ms,
                                      std::optional<std::pair<ProducerId, ProducerEpoch>> producer,
                                      std::optional<storage::VerificationGuard> verification) {
  cluster::Partition* p = Leading(partition);
  if (p == nullptr) return NotLeading(partition);
  protocol::RecordBatchBuilder builder;
  if (producer) builder.SetProducer(producer->first, producer->second, -1).SetTransactional(true);
  for (const KeyValue& kv : records) {
    protocol::OptionalBytes value;
    if (kv.value) value = std::span<const uint8_t>(*kv.value);
    builder.Add(now_ms, std::span<const uint8_t>(kv.key), value);
  }
  absl::StatusOr<std::vector<uint8_t>> batch = std::move(builder).Build();
  if (!batch.ok()) return batch.status();
  absl::StatusOr<storage::LogAppendInfo> info =
      p->AppendAsLeader(*batch, storage::AppendOrigin::kCoordinator, verification);
  return info.ok() ? absl::OkStatus() : info.status();
}

absl::StatusOr<storage::LogAppendInfo> ShardHost::AppendMarker(int32_t partition,
                                                               ProducerId producer,
                                                               ProducerEpoch epoch, bool commit,
                                                               int32_t coordinator_epoch,
                                                               int64_t now_ms) {
  cluster::Partition* p = Leading(partition);
  if (p == nullptr) return NotLeading(partition);
  return p->AppendTxnMarker(producer, epoch, commit, coordinator_epoch, now_ms);
}

std::shared_ptr<net::Timer> ShardHost::Schedule(size_t loop, int64_t delay_ms,
                                                std::function<void()> task) {
  return loops_.RunAfter(loop, std::chrono::milliseconds(delay_ms), std::move(task));
}

void ShardHost::Shutdown() {
  shutting_down_.store(true);
  for (size_t loop = 0; loop < slots_.size(); ++loop) {
    loops_.Post(loop, [this, loop] {
      for (auto& [partition, slot] : slots_[loop]) {
        if (!slot) continue;
        if (slot->tick) slot->tick->Cancel();
        slot->tick.reset();
        slot->shard->Unload();
      }
    });
  }
}

CoordinatorShard* ShardHost::ShardOn(size_t loop, int32_t partition, cluster::Partition& p,
                                     ErrorCode* error) {
  auto& slot = slots_[loop][partition];
  if (slot && slot->log == p.shared_log()) {
    if (!slot->loading) return slot->shard.get();
    *error = ErrorCode::kCoordinatorLoadInProgress;
    return nullptr;
  }
  if (slot) slot->shard->Unload();  // the log was replaced: its state is gone
  slot = std::make_unique<Slot>();
  slot->log = p.shared_log();
  slot->shard = options_.make(partition, loop, p.state().leader_epoch);
  slot->next = p.log().log_start_offset();
  slot->end = p.high_watermark();
  if (LoadStep(loop, partition)) return slots_[loop][partition]->shard.get();
  *error = slots_[loop].contains(partition) ? ErrorCode::kCoordinatorLoadInProgress
                                            : ErrorCode::kCoordinatorNotAvailable;
  return nullptr;
}

bool ShardHost::LoadStep(size_t loop, int32_t partition) {
  auto& slot = slots_[loop][partition];
  storage::TopicPartition tp{options_.topic, PartitionId(partition)};
  spdlog::logger& log = NamedLogger(options_.logger.c_str());
  cluster::Partition* p = replicas_.Get(tp);
  if (p == nullptr || p->shared_log() != slot->log) {
    slots_[loop].erase(partition);  // replaced or gone while loading; the next request starts over
    return false;
  }
  if (slot->next.value < slot->end.value) {
    absl::Status s =
        LoadChunk(*p, *slot->shard, &slot->next, slot->end,
                  std::max<uint64_t>(options_.load_buffer_bytes, 1), &slot->batches, log);
    if (!s.ok()) {
      log.error("cannot load {}: {}", tp.DirName(), s.message());
      slots_[loop].erase(partition);  // the next request starts over
      return false;
    }
  }
  if (slot->next.value < slot->end.value) {
    loops_.Post(loop, [this, loop, partition] {
      auto it = slots_[loop].find(partition);
      if (it != slots_[loop].end() && it->second && it->second->loading) LoadStep(loop, partition);
    });
    return false;
  }
  slot->loading = false;
  slot->shard->FinishLoad();
  if (slot->shard->unreadable_records > 0) {
    log.warn("loaded {} skipping {} unreadable records or batches", tp.DirName(),
             slot->shard->unreadable_records);
  }
  log.info("loaded {}: {} batches, {}", tp.DirName(), slot->batches, slot->shard->Summary());
  ScheduleTick(loop, partition);
  return true;
}

void ShardHost::ScheduleTick(size_t loop, int32_t partition) {
  if (options_.tick_interval_ms <= 0) return;
  auto& slot = slots_[loop][partition];
  slot->tick = Schedule(loop, options_.tick_interval_ms, [this, loop, partition] {
    auto it = slots_[loop].find(partition);
    if (it == slots_[loop].end() || !it->second || it->second->loading) return;
    it->second->shard->Tick();
    ScheduleTick(loop, partition);
  });
}

}  // namespace fjord::coordinator
