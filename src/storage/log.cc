#include "fjord/storage/log.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/producer_snapshot.h"
#include "logger.h"

namespace fjord::storage {
namespace {

constexpr absl::string_view kDeletedSuffix = ".deleted";
constexpr std::string_view kLeaderEpochFile = "leader-epoch-checkpoint";

}  // namespace

Log::Log(Params params)
    : fs_(*params.fs),
      clock_(*params.clock),
      dir_(params.dir),
      tp_(params.topic_partition),
      executor_(std::move(params.executor)),
      had_clean_shutdown_(params.had_clean_shutdown),
      config_(params.config),
      log_start_offset_(params.log_start_offset),
      recovery_point_(params.recovery_point) {}

Log::~Log() = default;

absl::StatusOr<std::unique_ptr<Log>> Log::Open(Params params) {
  std::unique_ptr<Log> log(new Log(std::move(params)));
  absl::MutexLock lock(&log->mu_);
  if (absl::Status s = log->Load(); !s.ok()) return s;
  return log;
}

Segment::Options Log::SegmentOptions() const {
  return {config_.index_interval_bytes, config_.segment_index_bytes};
}

absl::Status Log::Load() {
  if (absl::Status s = fs_.CreateDirs(dir_); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> names = fs_.List(dir_);
  if (!names.ok()) return names.status();
  std::vector<Offset> bases;
  std::vector<Offset> snapshots;
  for (const std::string& name : *names) {
    // Leftovers of an interrupted deletion or an atomic write go now.
    if (absl::EndsWith(name, kDeletedSuffix) || absl::EndsWith(name, ".tmp")) {
      if (absl::Status s = fs_.Remove(JoinPath(dir_, name)); !s.ok()) return s;
      continue;
    }
    if (std::optional<Offset> base = Segment::ParseFileName(name, ".log")) bases.push_back(*base);
    if (auto at = Segment::ParseFileName(name, kProducerSnapshotSuffix)) snapshots.push_back(*at);
  }
  std::sort(bases.begin(), bases.end());
  const int64_t now = clock_.NowMs();

  // Without a clean shutdown, everything from the segment holding the recovery point on
  // may hold torn or unsynced bytes.
  size_t first_to_recover = bases.size();
  if (!had_clean_shutdown_) {
    first_to_recover = 0;
    for (size_t i = 0; i < bases.size(); ++i) {
      if (bases[i] <= recovery_point_) first_to_recover = i;
    }
  }
  bool truncated = false;
  for (size_t i = 0; i < bases.size(); ++i) {
    if (truncated) {
      // Kafka's rule: after a cut, later segments cannot follow on; they go.
      Logger().warn("{}: deleting segment {} after a truncated one", dir_, bases[i].value);
      for (const std::string& path : Segment::FilePaths(dir_, bases[i])) {
        if (fs_.Exists(path)) {
          if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
        }
      }
      continue;
    }
    Segment::RecoveryResult result;
    const bool recover = i >= first_to_recover;
    auto seg = Segment::Open(fs_, dir_, bases[i], SegmentOptions(), now, recover, &result);
    if (!seg.ok()) return seg.status();
    if (recover) {
      // Recovered bytes may be dirty pages of the crashed process: make them durable
      // before the recovery point claims them.
      if (absl::Status s = (*seg)->Flush(); !s.ok()) return s;
      truncated = result.truncated_bytes > 0;
    }
    segments_.emplace(bases[i], std::move(*seg));
  }
  if (segments_.empty()) {
    auto seg = Segment::Create(fs_, dir_, log_start_offset_, SegmentOptions(), now);
    if (!seg.ok()) return seg.status();
    segments_.emplace(log_start_offset_, std::move(*seg));
    dir_dirty_ = true;
  }
  log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
  log_start_offset_ = std::min(log_start_offset_, active().next_offset());
  if (!had_clean_shutdown_ || recovery_point_ > active().next_offset()) {
    recovery_point_ = active().next_offset();
  }
  last_flush_ms_ = now;

  auto epochs = LeaderEpochCache::Open(fs_, JoinPath(dir_, std::string(kLeaderEpochFile)));
  if (!epochs.ok()) return epochs.status();
  epochs_ = std::move(*epochs);
  if (absl::Status s = epochs_->TruncateFromEnd(active().next_offset()); !s.ok()) return s;
  if (absl::Status s = epochs_->TruncateFromStart(log_start_offset_); !s.ok()) return s;
  return LoadProducers(snapshots);
}

absl::StatusOr<bool> Log::MaybeRoll(uint64_t bytes, const LogAppendInfo& info) {
  Segment& seg = active();
  const int64_t now = clock_.NowMs();
  if (seg.empty()) {
    // An empty active segment takes any append, unless its base cannot hold the offsets
    // (a follower's first batch far ahead): it is replaced.
    if (seg.CanHoldOffset(info.first_offset) && seg.CanHoldOffset(info.last_offset)) {
      return false;
    }
    if (absl::Status s = RollLocked(info.first_offset); !s.ok()) return s;
    return false;
  }
  const bool roll = seg.size() + bytes > static_cast<uint64_t>(config_.segment_bytes) ||
                    seg.TimeWaitedForRoll(now, info.max_timestamp) >
                        config_.segment_ms - config_.segment_jitter_ms ||
                    seg.IndexFull() || !seg.CanHoldOffset(info.last_offset);
  if (!roll) return false;
  if (absl::Status s = RollLocked(info.first_offset); !s.ok()) return s;
  return true;
}

absl::Status Log::RollLocked(Offset new_base) {
  new_base = std::max(new_base, active().next_offset());
  if (active().empty()) {
    if (active().base_offset() == new_base) return absl::OkStatus();
    // Replace the empty active segment rather than leave an empty one behind.
    if (absl::Status s = RemoveSegments({active().base_offset()}); !s.ok()) return s;
  } else if (absl::Status s = active().OnBecomeInactive(); !s.ok()) {
    return s;
  } else {
    TakeProducerSnapshot(new_base);
  }
  auto seg = Segment::Create(fs_, dir_, new_base, SegmentOptions(), clock_.NowMs());
  if (!seg.ok()) return seg.status();
  segments_.emplace(new_base, std::move(*seg));
  dir_dirty_ = true;
  return absl::OkStatus();
}

absl::Status Log::Roll() {
  Offset flush_to;
  {
    absl::MutexLock lock(&mu_);
    if (active().empty()) return absl::OkStatus();
    flush_to = active().next_offset();
    if (absl::Status s = RollLocked(flush_to); !s.ok()) return s;
  }
  return Flush(flush_to);
}

absl::StatusOr<LogAppendInfo> Log::Write(std::span<const uint8_t> batches, LogAppendInfo info,
                                         std::optional<LeaderEpoch> leader_epoch, FlushPlan* plan) {
  absl::StatusOr<bool> rolled = MaybeRoll(batches.size(), info);
  if (!rolled.ok()) return rolled.status();
  if (*rolled) {
    plan->after_roll = active().base_offset();
  }
  if (absl::Status s = active().Append(batches, info); !s.ok()) {
    Logger().error("{}: append at offset {} failed: {}", dir_, info.first_offset.value,
                   s.message());
    return AppendFailure(AppendError::kStorage, std::string(s.message()));
  }
  // A leader stamped one epoch on every batch: no need to read the headers again.
  absl::Status epoch_status =
      leader_epoch ? AssignEpoch(*leader_epoch, info.first_offset) : UpdateEpochCache(batches);
  if (!epoch_status.ok()) {
    Logger().error("{}: leader-epoch checkpoint: {}", dir_, epoch_status.message());
  }
  info.log_start_offset = log_start_offset_;
  unflushed_records_ += info.record_count;
  if (unflushed_records_ >= config_.flush_messages) {
    plan->now = active().next_offset();
  }
  return info;
}

absl::Status Log::UpdateEpochCache(std::span<const uint8_t> batches) {
  for (size_t p = 0; p + protocol::kRecordBatchHeaderSize <= batches.size();) {
    protocol::RecordBatchHeader h = protocol::RecordBatchHeader::Decode(batches.data() + p);
    if (absl::Status s = AssignEpoch(h.partition_leader_epoch, h.base_offset); !s.ok()) {
      return s;
    }
    p += h.size_in_bytes();
  }
  return absl::OkStatus();
}

absl::Status Log::AssignEpoch(LeaderEpoch epoch, Offset start_offset) {
  if (epoch.value < 0) return absl::OkStatus();
  std::optional<LeaderEpoch> latest = epochs_->LatestEpoch();
  if (latest && epoch <= *latest) return absl::OkStatus();
  return epochs_->Assign(epoch, start_offset);
}

absl::Status Log::AfterAppend(const FlushPlan& plan) {
  if (plan.after_roll) {
    const Offset to = *plan.after_roll;
    auto flush = [this, to] {
      if (absl::Status s = Flush(to); !s.ok()) {
        Logger().error("{}: flush of the rolled segment (to {}) failed: {}", dir_, to.value,
                       s.message());
      }
    };
    if (executor_) {
      executor_(flush);
    } else {
      flush();
    }
  }
  if (plan.now) {
    // flush.messages: the append is not done until it is durable.
    if (absl::Status s = Flush(*plan.now); !s.ok()) {
      Logger().error("{}: flush to {} failed: {}", dir_, plan.now->value, s.message());
      return AppendFailure(AppendError::kStorage, std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LogAppendInfo> Log::AppendAsLeader(std::span<uint8_t> records,
                                                  LeaderEpoch leader_epoch, AppendOrigin origin,
                                                  std::optional<VerificationGuard> verification) {
  LeaderAppendOptions options;
  options.origin = origin;
  options.verification = verification;
  return AppendAsLeader(records, leader_epoch, options);
}

absl::StatusOr<LogAppendInfo> Log::AppendAsLeader(std::span<uint8_t> records,
                                                  LeaderEpoch leader_epoch,
                                                  const LeaderAppendOptions& options) {
  const AppendOrigin origin = options.origin;
  const std::optional<VerificationGuard>& verification = options.verification;
  FlushPlan plan;
  absl::StatusOr<LogAppendInfo> out;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    ValidationContext ctx{origin, active().next_offset(), leader_epoch, clock_.NowMs(),
                          options.prevalidated_max_timestamps};
    absl::StatusOr<LogAppendInfo> info = ValidateAndAssignOffsets(records, config_, ctx);
    if (!info.ok()) return info.status();
    const std::span<const uint8_t> valid = records.first(info->valid_bytes);
    absl::StatusOr<std::optional<ProducerBatch>> duplicate = CheckProducers(*info, verification);
    if (!duplicate.ok()) return duplicate.status();
    if (*duplicate) {
      // A retry of a batch already written: answer with its offsets, write nothing.
      LogAppendInfo d = *info;
      d.first_offset = (*duplicate)->first_offset;
      d.last_offset = (*duplicate)->last_offset;
      d.log_start_offset = log_start_offset_;
      d.batch_count = 0;
      d.record_count = 0;
      return d;
    }
    out = Write(valid, *info, leader_epoch, &plan);
    if (out.ok()) {
      if (absl::Status s = RecordProducers(info->producer_batches); !s.ok()) {
        return AppendFailure(AppendError::kStorage, std::string(s.message()));
      }
    }
  }
  if (!out.ok()) return out;
  if (options.deferred_flush != nullptr && plan.now) {
    *options.deferred_flush = plan.now;
    plan.now.reset();
  }
  if (absl::Status s = AfterAppend(plan); !s.ok()) return s;
  return out;
}

absl::StatusOr<LogAppendInfo> Log::AppendAsFollower(std::span<const uint8_t> records) {
  FlushPlan plan;
  absl::StatusOr<LogAppendInfo> out;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    absl::StatusOr<LogAppendInfo> info =
        ValidateReplicatedBatches(records, config_, active().next_offset());
    if (!info.ok()) return info.status();
    if (info->batch_count == 0) {
      info->first_offset = info->last_offset = active().next_offset() - 1;
      info->log_start_offset = log_start_offset_;
      return info;
    }
    out = Write(records.first(info->valid_bytes), *info, std::nullopt, &plan);
    if (out.ok()) {
      if (absl::Status s = RecordProducers(info->producer_batches); !s.ok()) {
        return AppendFailure(AppendError::kStorage, std::string(s.message()));
      }
    }
  }
  if (!out.ok()) return out;
  if (absl::Status s = AfterAppend(plan); !s.ok()) return s;
  return out;
}

Offset Log::log_start_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return log_start_offset_;
}

Offset Log::log_end_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return active().next_offset();
}

Offset Log::recovery_point() const {
  absl::ReaderMutexLock lock(&mu_);
  return recovery_point_;
}

uint64_t Log::size_bytes() const {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [base, seg] : segments_) total += seg->size();
  return total;
}

size_t Log::segment_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return segments_.size();
}

LogConfig Log::config() const {
  absl::ReaderMutexLock lock(&mu_);
  return config_;
}

void Log::UpdateConfig(const LogConfig& config) {
  absl::MutexLock lock(&mu_);
  config_ = config;
}

absl::Status Log::Flush(Offset offset) {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<std::pair<std::shared_ptr<Segment>, Segment::SyncPlan>> to_sync;
  bool sync_dir = false;
  {
    absl::MutexLock lock(&mu_);
    offset = std::min(offset, active().next_offset());
    const bool snapshot_due =
        std::any_of(pending_snapshots_.begin(), pending_snapshots_.end(),
                    [&](const PendingSnapshot& p) { return p.offset <= offset; });
    if (offset <= recovery_point_ && !dir_dirty_ && !snapshot_due) return absl::OkStatus();
    for (const auto& [base, seg] : segments_) {
      if (base >= offset) break;
      if (seg->next_offset() > recovery_point_ || seg->next_offset() == base) {
        absl::StatusOr<Segment::SyncPlan> plan = seg->PrepareFlush();
        if (!plan.ok()) {
          for (const auto& prepared : to_sync) prepared.first->MarkDirty();
          return plan.status();
        }
        to_sync.emplace_back(seg, std::move(*plan));
      }
    }
    sync_dir = dir_dirty_;
    dir_dirty_ = false;
  }
  for (const auto& [seg, plan] : to_sync) {
    if (absl::Status s = seg->Sync(plan); !s.ok()) {
      absl::MutexLock lock(&mu_);
      dir_dirty_ = dir_dirty_ || sync_dir;
      return s;
    }
  }
  WriteProducerSnapshots(offset);
  {
    absl::MutexLock lock(&mu_);
    sync_dir = sync_dir || dir_dirty_;
    dir_dirty_ = false;
  }
  if (sync_dir) {
    if (absl::Status s = fs_.SyncDir(dir_); !s.ok()) {
      absl::MutexLock lock(&mu_);
      dir_dirty_ = true;
      return s;
    }
  }
  absl::MutexLock lock(&mu_);
  if (offset > recovery_point_) recovery_point_ = offset;
  if (recovery_point_ >= active().next_offset()) unflushed_records_ = 0;
  last_flush_ms_ = clock_.NowMs();
  return absl::OkStatus();
}

bool Log::FlushDue(int64_t now_ms) const {
  absl::ReaderMutexLock lock(&mu_);
  if (recovery_point_ >= active().next_offset() && !dir_dirty_) return false;
  return config_.flush_ms != kUnlimited && now_ms - last_flush_ms_ >= config_.flush_ms;
}

std::pair<LeaderEpoch, Offset> Log::EndOffsetForEpoch(LeaderEpoch epoch) const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_->EndOffsetFor(epoch, active().next_offset());
}

std::optional<LeaderEpoch> Log::LatestEpoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_->LatestEpoch();
}

absl::Status Log::Close() {
  {
    // The next open starts from this snapshot and reads no segment.
    absl::MutexLock lock(&mu_);
    if (!snapshots_.contains(active().next_offset())) TakeProducerSnapshot(active().next_offset());
  }
  if (absl::Status s = FlushAll(); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  // Segments below the recovery point whose indexes were rebuilt at open.
  for (const auto& [base, seg] : segments_) {
    if (!seg->dirty()) continue;
    if (absl::Status s = seg->Flush(); !s.ok()) return s;
  }
  closed_ = true;
  return epochs_->Flush();
}

absl::Status Log::Delete() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  segments_.clear();
  pending_deletes_.clear();
  epochs_.reset();
  return fs_.RemoveDirRecursive(dir_);
}

}  // namespace fjord::storage
