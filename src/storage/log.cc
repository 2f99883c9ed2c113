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

absl::StatusOr<std::vector<uint8_t>> ReadRegions(const std::vector<FileRegion>& regions) {
  uint64_t total = 0;
  for (const FileRegion& r : regions) total += r.length;
  std::vector<uint8_t> out(total);
  uint64_t at = 0;
  for (const FileRegion& r : regions) {
    std::span<uint8_t> dst(out.data() + at, r.length);
    absl::StatusOr<size_t> n = r.file->ReadAt(r.position, dst);
    if (!n.ok()) return n.status();
    if (*n != r.length) {
      // The log was truncated under the read (a follower's truncation): what was read is
      // all there is.
      out.resize(at + *n);
      return out;
    }
    at += r.length;
  }
  return out;
}

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

absl::StatusOr<std::optional<ProducerBatch>> Log::CheckProducers(const LogAppendInfo& info) const {
  std::optional<ProducerBatch> duplicate;
  for (const ProducerAppend& a : info.producer_batches) {
    ProducerStateTable::Verdict v = producers_.Check(a);
    if (v.error != AppendError::kNone) return AppendFailure(v.error, std::move(v.message));
    if (v.duplicate) duplicate = v.duplicate;
  }
  return duplicate;
}

absl::Status Log::RecordProducers(const std::vector<ProducerAppend>& appends) {
  for (const ProducerAppend& a : appends) {
    std::optional<CompletedTxn> done = producers_.Record(a);
    if (!done || !done->aborted) continue;
    // The marker went to the active segment: its index lists the abort.
    AbortedTxn entry{done->producer_id, done->first_offset, done->last_offset,
                     producers_.LastStableOffsetAfter(*done)};
    auto seg = segments_.upper_bound(done->last_offset);
    if (seg == segments_.begin()) continue;
    --seg;
    if (absl::Status s = seg->second->txn_index().Append(entry); !s.ok()) {
      Logger().error("{}: transaction index append for the abort at {} failed: {}", dir_,
                     done->last_offset.value, s.message());
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Log::LoadProducers(const std::vector<Offset>& snapshots) {
  // The newest snapshot that reads back whole; older ones stay for a later fallback.
  // Those past the log end (a recovery cut the log) or before its first segment (their
  // segments are gone) no longer describe this log.
  const Offset first = segments_.begin()->first;
  const Offset leo = active().next_offset();
  Offset from = first;
  bool loaded = false;
  std::vector<Offset> newest_first(snapshots);
  std::sort(newest_first.rbegin(), newest_first.rend());
  for (Offset at : newest_first) {
    const std::string path = ProducerSnapshotPath(at);
    if (at > leo || at < first) {
      if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
      continue;
    }
    if (!loaded) {
      absl::StatusOr<std::vector<uint8_t>> bytes = fs_.ReadWholeFile(path);
      if (!bytes.ok()) return bytes.status();
      absl::StatusOr<ProducerStateTable> table = DecodeProducerSnapshot(*bytes, at);
      if (!table.ok()) {
        Logger().warn("{}: {}: {}; deleting it and reading the segments instead", dir_, path,
                      table.status().message());
        if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
        continue;
      }
      producers_ = std::move(*table);
      from = at;
      loaded = true;
    }
    snapshots_.insert(at);
  }
  // The batch headers after the snapshot are read back; a control batch's marker is read
  // whole (they are a few dozen bytes). Without a snapshot that is every segment: an open
  // transaction may have begun anywhere.
  auto it = segments_.upper_bound(from);
  if (it != segments_.begin()) --it;
  const Offset skip_below = std::max(from, log_start_offset_);
  for (; it != segments_.end(); ++it) {
    Segment& seg = *it->second;
    absl::Status marker_status;
    absl::Status s = seg.ForEachBatchHeader([&](const protocol::RecordBatchHeader& h) {
      if (h.last_offset() < skip_below || !marker_status.ok()) return;
      if (!h.is_control()) {
        if (auto a = ProducerAppendOf(h, h.base_offset, h.max_timestamp)) producers_.Record(*a);
        return;
      }
      if (!h.is_transactional()) return;
      marker_status = ReplayMarker(seg, h);
    });
    if (!s.ok()) return s;
    if (!marker_status.ok()) return marker_status;
  }
  return absl::OkStatus();
}

void Log::TakeProducerSnapshot(Offset offset) {
  std::erase_if(pending_snapshots_, [&](const PendingSnapshot& p) { return p.offset == offset; });
  pending_snapshots_.push_back({offset, EncodeProducerSnapshot(producers_)});
}

std::string Log::ProducerSnapshotPath(Offset offset) const {
  return JoinPath(dir_, Segment::FileName(offset, kProducerSnapshotSuffix));
}

void Log::WriteProducerSnapshots(Offset offset) {
  std::vector<PendingSnapshot> due;
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    auto split = std::stable_partition(pending_snapshots_.begin(), pending_snapshots_.end(),
                                       [&](const PendingSnapshot& p) { return p.offset > offset; });
    std::move(split, pending_snapshots_.end(), std::back_inserter(due));
    pending_snapshots_.erase(split, pending_snapshots_.end());
    generation = truncations_;
  }
  for (const PendingSnapshot& p : due) {
    const std::string path = ProducerSnapshotPath(p.offset);
    const std::string tmp = path + ".tmp";
    absl::Status s = [&]() -> absl::Status {
      absl::StatusOr<std::unique_ptr<File>> f = fs_.Open(tmp, /*create=*/true);
      if (!f.ok()) return f.status();
      if (absl::Status st = (*f)->Truncate(0); !st.ok()) return st;
      if (absl::Status st = (*f)->WriteAt(0, p.bytes); !st.ok()) return st;
      return (*f)->Sync();
    }();
    absl::MutexLock lock(&mu_);
    // A truncation since it was taken may have removed offsets it covers.
    if (s.ok() && truncations_ == generation && p.offset <= active().next_offset()) {
      s = fs_.Rename(tmp, path);
      if (s.ok()) {
        snapshots_.insert(p.offset);
        dir_dirty_ = true;
        continue;
      }
    }
    if (!s.ok()) {
      Logger().warn(
          "{}: producer snapshot at offset {} not written ({}); a restart reads the "
          "segments after the previous one",
          dir_, p.offset.value, s.message());
    }
    if (fs_.Exists(tmp)) (void)fs_.Remove(tmp);
  }
}

void Log::RemoveProducerSnapshots(const std::function<bool(Offset)>& doomed) {
  std::erase_if(pending_snapshots_, [&](const PendingSnapshot& p) { return doomed(p.offset); });
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    if (!doomed(*it)) {
      ++it;
      continue;
    }
    if (absl::Status s = fs_.Remove(ProducerSnapshotPath(*it)); !s.ok()) {
      Logger().warn("{}: removing the producer snapshot at offset {}: {}", dir_, it->value,
                    s.message());
    }
    it = snapshots_.erase(it);
    dir_dirty_ = true;
  }
}

absl::Status Log::ReplayMarker(Segment& seg, const protocol::RecordBatchHeader& h) {
  absl::StatusOr<Segment::ReadSlice> slice =
      seg.Read(h.base_offset, h.size_in_bytes(), h.next_offset(), true);
  if (!slice.ok()) return slice.status();
  if (!slice->region) return absl::OkStatus();
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadRegions({*slice->region});
  if (!bytes.ok()) return bytes.status();
  protocol::RecordBatchIterator it(*bytes);
  if (!it.Next()) return it.status();
  absl::StatusOr<std::optional<ProducerAppend>> m = MarkerAppendOf(it.batch(), h.base_offset);
  if (!m.ok()) return m.status();
  if (!*m) return absl::OkStatus();
  // Aborts already in the index (written before the stop) are not indexed again.
  std::optional<CompletedTxn> done = producers_.Record(**m);
  if (!done || !done->aborted) return absl::OkStatus();
  std::optional<Offset> indexed = seg.txn_index().last_offset();
  if (indexed && *indexed >= done->last_offset) return absl::OkStatus();
  AbortedTxn entry{done->producer_id, done->first_offset, done->last_offset,
                   producers_.LastStableOffsetAfter(*done)};
  return seg.txn_index().Append(entry);
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
                                                  LeaderEpoch leader_epoch, AppendOrigin origin) {
  FlushPlan plan;
  absl::StatusOr<LogAppendInfo> out;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    ValidationContext ctx{origin, active().next_offset(), leader_epoch, clock_.NowMs()};
    absl::StatusOr<LogAppendInfo> info = ValidateAndAssignOffsets(records, config_, ctx);
    if (!info.ok()) return info.status();
    const std::span<const uint8_t> valid = records.first(info->valid_bytes);
    absl::StatusOr<std::optional<ProducerBatch>> duplicate = CheckProducers(*info);
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

absl::StatusOr<LogReadResult> Log::Read(Offset start_offset, uint64_t max_bytes, Offset max_offset,
                                        bool min_one_message) const {
  absl::ReaderMutexLock lock(&mu_);
  const Offset leo = active().next_offset();
  if (start_offset < log_start_offset_ || start_offset > leo) {
    return absl::OutOfRangeError(absl::StrCat(tp_.DirName(), ": offset ", start_offset.value,
                                              " is outside [", log_start_offset_.value, ", ",
                                              leo.value, "]"));
  }
  LogReadResult out;
  max_offset = std::min(max_offset, leo);
  auto it = segments_.upper_bound(start_offset);
  if (it != segments_.begin()) --it;
  Offset from = start_offset;
  for (; it != segments_.end() && from < max_offset; ++it) {
    const uint64_t budget = max_bytes > out.bytes ? max_bytes - out.bytes : 0;
    absl::StatusOr<Segment::ReadSlice> slice =
        it->second->Read(from, budget, max_offset, min_one_message && out.regions.empty());
    if (!slice.ok()) return slice.status();
    if (slice->region) {
      out.bytes += slice->region->length;
      out.regions.push_back(std::move(*slice->region));
    }
    if (!slice->reached_end) break;
    from = std::max(from, it->second->next_offset());
  }
  return out;
}

absl::StatusOr<std::optional<TimestampAndOffset>> Log::FetchOffsetByTimestamp(
    int64_t timestamp) const {
  absl::ReaderMutexLock lock(&mu_);
  using Result = std::optional<TimestampAndOffset>;
  switch (timestamp) {
    case kLatestTimestamp:
      return Result(TimestampAndOffset{-1, active().next_offset()});
    case kEarliestTimestamp:
    case kEarliestLocalTimestamp:
      return Result(TimestampAndOffset{-1, log_start_offset_});
    case kMaxTimestamp: {
      const Segment* best = nullptr;
      for (const auto& [base, seg] : segments_) {
        if (seg->empty()) continue;
        if (!best || seg->max_timestamp() > best->max_timestamp()) best = seg.get();
      }
      if (!best) return Result();
      return best->FindMaxTimestampRecord();
    }
    default:
      break;
  }
  if (timestamp < 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown special timestamp ", timestamp));
  }
  for (const auto& [base, seg] : segments_) {
    if (seg->empty() || seg->max_timestamp() < timestamp) continue;
    if (seg->next_offset() <= log_start_offset_) continue;
    absl::StatusOr<Result> found = seg->FindOffsetByTimestamp(timestamp, log_start_offset_);
    if (!found.ok() || *found) return found;
  }
  return Result();
}

std::optional<Offset> Log::FirstUnstableOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return producers_.FirstUnstableOffset();
}

absl::StatusOr<std::vector<AbortedTxn>> Log::CollectAbortedTxns(Offset from, Offset upper) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<AbortedTxn> out;
  auto it = segments_.upper_bound(from);
  if (it != segments_.begin()) --it;
  for (; it != segments_.end(); ++it) {
    // An index whose last abort is below `from` has nothing for the range: no file read.
    std::optional<Offset> last = it->second->txn_index().last_offset();
    if (!last || *last < from) continue;
    absl::StatusOr<TxnSearchResult> r = it->second->txn_index().CollectAbortedTxns(from, upper);
    if (!r.ok()) return r.status();
    out.insert(out.end(), r->aborted.begin(), r->aborted.end());
    if (r->complete) break;
  }
  return out;
}

std::vector<std::pair<ProducerId, ProducerEntry>> Log::Producers() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::pair<ProducerId, ProducerEntry>> out;
  for (const auto& [id, e] : producers_.producers()) out.emplace_back(ProducerId(id), e);
  return out;
}

size_t Log::ExpireProducers(int64_t cutoff_ms) {
  absl::MutexLock lock(&mu_);
  return producers_.ExpireBefore(cutoff_ms);
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
  std::vector<std::shared_ptr<Segment>> to_sync;
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
        to_sync.push_back(seg);
      }
    }
    sync_dir = dir_dirty_;
    dir_dirty_ = false;
  }
  for (const std::shared_ptr<Segment>& seg : to_sync) {
    if (absl::Status s = seg->Flush(); !s.ok()) {
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

absl::StatusOr<bool> Log::TruncateTo(Offset offset) {
  absl::MutexLock lock(&mu_);
  if (offset.value < 0) return absl::InvalidArgumentError("negative truncation offset");
  if (offset >= active().next_offset()) return false;
  if (segments_.begin()->first > offset) {
    if (absl::Status s = TruncateFullyLocked(offset); !s.ok()) return s;
    return true;
  }
  std::vector<Offset> drop;
  for (auto it = segments_.upper_bound(offset); it != segments_.end(); ++it) {
    drop.push_back(it->first);
  }
  // The segment that keeps part of its bytes becomes the active one.
  auto keep = std::prev(segments_.upper_bound(offset));
  std::shared_ptr<Segment> survivor = keep->second;
  if (absl::Status s = RemoveSegments(drop); !s.ok()) return s;
  absl::StatusOr<uint64_t> cut = survivor->TruncateTo(offset);
  if (!cut.ok()) return cut.status();
  const Offset leo = active().next_offset();
  Logger().info("{}: truncated to offset {} (log end offset now {})", dir_, offset.value,
                leo.value);
  recovery_point_ = std::min(recovery_point_, leo);
  log_start_offset_ = std::min(log_start_offset_, leo);
  if (absl::Status s = epochs_->TruncateFromEnd(leo); !s.ok()) return s;
  producers_.TruncateFrom(leo);
  ++truncations_;
  RemoveProducerSnapshots([leo](Offset at) { return at > leo; });
  return true;
}

absl::Status Log::TruncateFullyAndStartAt(Offset offset) {
  absl::MutexLock lock(&mu_);
  return TruncateFullyLocked(offset);
}

absl::Status Log::TruncateFullyLocked(Offset offset) {
  if (offset.value < 0) return absl::InvalidArgumentError("negative start offset");
  std::vector<Offset> drop;
  for (const auto& [base, seg] : segments_) drop.push_back(base);
  if (absl::Status s = RemoveSegments(drop); !s.ok()) return s;
  producers_.Clear();
  ++truncations_;
  RemoveProducerSnapshots([](Offset) { return true; });
  auto seg = Segment::Create(fs_, dir_, offset, SegmentOptions(), clock_.NowMs());
  if (!seg.ok()) return seg.status();
  segments_.emplace(offset, std::move(*seg));
  dir_dirty_ = true;
  log_start_offset_ = offset;
  recovery_point_ = offset;
  unflushed_records_ = 0;
  Logger().info("{}: truncated fully; the log restarts at offset {}", dir_, offset.value);
  return epochs_->Clear();
}

absl::StatusOr<bool> Log::MaybeIncrementLogStartOffset(Offset offset) {
  absl::MutexLock lock(&mu_);
  if (offset > active().next_offset()) {
    return absl::OutOfRangeError(absl::StrCat("log start offset ", offset.value,
                                              " is past the log end offset ",
                                              active().next_offset().value));
  }
  if (offset <= log_start_offset_) return false;
  log_start_offset_ = offset;
  if (absl::Status s = epochs_->TruncateFromStart(offset); !s.ok()) return s;
  return true;
}

absl::StatusOr<int> Log::DeleteOldSegments(Offset high_watermark) {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_.NowMs();
  uint64_t total = 0;
  for (const auto& [base, seg] : segments_) total += seg->size();
  // retention.bytes: how far the log is over its size limit.
  int64_t excess =
      config_.retention_bytes >= 0 ? static_cast<int64_t>(total) - config_.retention_bytes : 0;
  std::vector<Offset> drop;
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    const Segment& seg = *it->second;
    auto next = std::next(it);
    const Offset upper = next == segments_.end() ? seg.next_offset() : next->first;
    if (seg.empty() || upper > high_watermark) break;
    const bool below_start = upper <= log_start_offset_;
    const bool expired = config_.retention_ms >= 0 && seg.max_timestamp() >= 0 &&
                         now - seg.max_timestamp() > config_.retention_ms;
    const bool over_size =
        config_.retention_bytes >= 0 && excess - static_cast<int64_t>(seg.size()) >= 0;
    if (!below_start && !expired && !over_size) break;
    excess -= static_cast<int64_t>(seg.size());
    drop.push_back(it->first);
  }
  if (drop.empty()) return 0;
  if (drop.back() == active().base_offset()) {
    // Every segment goes: roll so an empty active segment remains at the log end.
    if (absl::Status s = RollLocked(active().next_offset()); !s.ok()) return s;
  }
  Logger().info("{}: deleting {} segment(s) from offset {} (retention)", dir_, drop.size(),
                drop.front().value);
  if (absl::Status s = RemoveSegments(drop); !s.ok()) return s;
  const Offset first = segments_.begin()->first;
  RemoveProducerSnapshots([first](Offset at) { return at < first; });
  log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
  if (absl::Status s = epochs_->TruncateFromStart(log_start_offset_); !s.ok()) return s;
  return static_cast<int>(drop.size());
}

absl::Status Log::RemoveSegments(const std::vector<Offset>& bases) {
  const int64_t due = clock_.NowMs() + config_.file_delete_delay_ms;
  for (Offset base : bases) {
    auto it = segments_.find(base);
    if (it == segments_.end()) continue;
    std::shared_ptr<Segment> seg = std::move(it->second);
    segments_.erase(it);
    if (absl::Status s = seg->AddSuffix(".deleted"); !s.ok()) return s;
    pending_deletes_.push_back({std::move(seg), due});
  }
  dir_dirty_ = true;
  return absl::OkStatus();
}

absl::Status Log::DeleteExpiredFiles(int64_t now_ms) {
  std::vector<std::shared_ptr<Segment>> due;
  {
    absl::MutexLock lock(&mu_);
    auto split = std::stable_partition(pending_deletes_.begin(), pending_deletes_.end(),
                                       [&](const PendingDelete& p) { return p.due_ms > now_ms; });
    for (auto it = split; it != pending_deletes_.end(); ++it) due.push_back(std::move(it->segment));
    pending_deletes_.erase(split, pending_deletes_.end());
  }
  for (const std::shared_ptr<Segment>& seg : due) {
    for (const std::string& path : seg->FilePaths()) {
      if (!fs_.Exists(path)) continue;
      if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
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
