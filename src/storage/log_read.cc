// Log reads: record bytes as file regions (for sendfile), timestamp lookups, and the
// transaction index as a read_committed fetch needs it.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fjord/base/endian.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log.h"
#include "fjord/storage/producer_snapshot.h"
#include "logger.h"

namespace fjord::storage {

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

absl::Status TrimToWholeBatches(LogReadResult* read, uint64_t max_bytes) {
  if (read->bytes <= max_bytes) return absl::OkStatus();
  uint64_t kept = 0;
  size_t r = 0;
  for (; r < read->regions.size(); ++r) {
    FileRegion& region = read->regions[r];
    if (kept + region.length <= max_bytes) {
      kept += region.length;
      continue;
    }
    // Every batch (and legacy message set entry) starts with an int64 offset and an int32
    // length of what follows.
    uint64_t fits = 0;
    while (fits < region.length) {
      uint8_t head[12];
      absl::StatusOr<size_t> n = region.file->ReadAt(region.position + fits, head);
      if (!n.ok() || *n != sizeof(head)) {
        *read = {};
        return n.ok() ? absl::DataLossError("short read of a batch header") : n.status();
      }
      const uint64_t size = 12 + static_cast<uint64_t>(be::Load32(head + 8));
      if (kept + fits + size > max_bytes || fits + size > region.length) break;
      fits += size;
    }
    region.length = fits;
    kept += fits;
    if (fits > 0) ++r;
    break;
  }
  read->regions.resize(r);
  read->bytes = kept;
  return absl::OkStatus();
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

}  // namespace fjord::storage
