// Where a log gives up data: truncation (a follower's divergence, recovery) and retention
// (time, size, DeleteRecords' log start offset), with segment files renamed `.deleted`
// and removed later.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log.h"
#include "fjord/storage/producer_snapshot.h"
#include "logger.h"

namespace fjord::storage {

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

}  // namespace fjord::storage
