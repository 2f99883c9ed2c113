#include "fjord/storage/segment.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fjord/base/endian.h"
#include "fjord/protocol/record_batch.h"
#include "logger.h"

namespace fjord::storage {
namespace {

using protocol::kLogOverhead;
using protocol::kRecordBatchHeaderSize;
using protocol::RecordBatchHeader;

constexpr std::string_view kLogSuffix = ".log";
constexpr std::string_view kIndexSuffix = ".index";
constexpr std::string_view kTimeIndexSuffix = ".timeindex";
constexpr std::string_view kTxnIndexSuffix = ".txnindex";
constexpr size_t kRecoveryChunk = 8u << 20;

BatchLocation LocationOf(const RecordBatchHeader& h, uint64_t position) {
  return {position, static_cast<uint32_t>(h.size_in_bytes()), h.base_offset, h.last_offset(),
          h.max_timestamp};
}

}  // namespace

std::string Segment::FileName(Offset base_offset, std::string_view suffix) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(base_offset.value));
  return std::string(digits) + std::string(suffix);
}

std::optional<Offset> Segment::ParseFileName(std::string_view name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || end != name.data() + 20 || v < 0) return std::nullopt;
  return Offset(v);
}

Segment::Segment(FileSystem& fs, std::string dir, Offset base_offset, const Options& options,
                 int64_t now_ms)
    : fs_(fs),
      dir_(std::move(dir)),
      base_offset_(base_offset),
      options_(options),
      created_ms_(now_ms),
      next_offset_(base_offset) {}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(FileSystem& fs, const std::string& dir,
                                                         Offset base_offset, const Options& options,
                                                         int64_t now_ms) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base_offset, options, now_ms));
  if (absl::Status s = seg->OpenFiles(/*truncate=*/true); !s.ok()) return s;
  return seg;
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(FileSystem& fs, const std::string& dir,
                                                       Offset base_offset, const Options& options,
                                                       int64_t now_ms, bool recover,
                                                       RecoveryResult* result) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base_offset, options, now_ms));
  if (absl::Status s = seg->OpenFiles(/*truncate=*/false); !s.ok()) return s;
  if (recover) {
    absl::StatusOr<RecoveryResult> r = seg->Recover();
    if (!r.ok()) return r.status();
    if (result) *result = *r;
  } else if (absl::Status s = seg->LoadAfterCleanShutdown(); !s.ok()) {
    return s;
  }
  return seg;
}

absl::Status Segment::OpenFiles(bool truncate) {
  absl::StatusOr<std::unique_ptr<File>> log =
      fs_.Open(JoinPath(dir_, FileName(base_offset_, kLogSuffix)), /*create=*/true);
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  if (truncate) {
    if (absl::Status s = log_->Truncate(0); !s.ok()) return s;
  }
  absl::StatusOr<uint64_t> size = log_->Size();
  if (!size.ok()) return size.status();
  size_ = *size;
  if (absl::Status s = OpenIndexes(); !s.ok()) return s;
  if (truncate) {
    if (absl::Status s = offset_index_->Reset(); !s.ok()) return s;
    if (absl::Status s = time_index_->Reset(); !s.ok()) return s;
    if (absl::Status s = txn_index_->Reset(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

namespace {

// Opens an index; a file that fails its format check is removed and started afresh (the
// caller then rebuilds it from the log). Sets *rebuilt when that happened.
template <typename Index, typename... Args>
absl::StatusOr<std::unique_ptr<Index>> OpenOrReset(FileSystem& fs, const std::string& path,
                                                   bool* rebuilt, Args... args) {
  auto index = Index::Open(fs, path, args...);
  if (index.ok() || index.status().code() != absl::StatusCode::kDataLoss) return index;
  Logger().warn("{}; rebuilding it from the log", index.status().message());
  if (absl::Status s = fs.Remove(path); !s.ok()) return s;
  *rebuilt = true;
  return Index::Open(fs, path, args...);
}

}  // namespace

absl::Status Segment::OpenIndexes() {
  bool rebuilt = false;
  const size_t max = static_cast<size_t>(std::max<int64_t>(options_.max_index_bytes, 0));
  auto offset_index = OpenOrReset<OffsetIndex>(
      fs_, JoinPath(dir_, FileName(base_offset_, kIndexSuffix)), &rebuilt, max);
  if (!offset_index.ok()) return offset_index.status();
  // One spare entry in the time index for the final entry written at roll.
  auto time_index =
      OpenOrReset<TimeIndex>(fs_, JoinPath(dir_, FileName(base_offset_, kTimeIndexSuffix)),
                             &rebuilt, max + TimeIndexEntry::kSize);
  if (!time_index.ok()) return time_index.status();
  bool txn_rebuilt = false;
  auto txn_index = OpenOrReset<TxnIndex>(
      fs_, JoinPath(dir_, FileName(base_offset_, kTxnIndexSuffix)), &txn_rebuilt);
  if (!txn_index.ok()) return txn_index.status();
  offset_index_ = std::move(*offset_index);
  time_index_ = std::move(*time_index);
  txn_index_ = std::move(*txn_index);
  if (rebuilt) {
    // Poison the indexes so LoadAfterCleanShutdown rebuilds both from the log.
    if (absl::Status s = offset_index_->Reset(); !s.ok()) return s;
    if (absl::Status s = time_index_->Reset(); !s.ok()) return s;
    indexes_need_rebuild_ = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RecordBatchHeader>> Segment::ReadHeader(uint64_t position) const {
  if (position >= size_) return std::optional<RecordBatchHeader>();
  uint8_t buf[kRecordBatchHeaderSize];
  if (size_ - position < kRecordBatchHeaderSize) {
    return absl::DataLossError(
        absl::StrCat(log_->path(), ": partial batch header at position ", position));
  }
  absl::StatusOr<size_t> n = log_->ReadAt(position, buf);
  if (!n.ok()) return n.status();
  if (*n != sizeof buf) {
    return absl::DataLossError(absl::StrCat(log_->path(), ": short read at position ", position));
  }
  RecordBatchHeader h = RecordBatchHeader::Decode(buf);
  if (h.batch_length < protocol::kMinBatchLength || h.size_in_bytes() > size_ - position ||
      h.last_offset() < h.base_offset) {
    return absl::DataLossError(
        absl::StrCat(log_->path(), ": bad batch header at position ", position));
  }
  return std::optional<RecordBatchHeader>(h);
}

absl::StatusOr<std::optional<BatchLocation>> Segment::ReadLocation(uint64_t position) const {
  absl::StatusOr<std::optional<RecordBatchHeader>> h = ReadHeader(position);
  if (!h.ok()) return h.status();
  if (!*h) return std::optional<BatchLocation>();
  return std::optional<BatchLocation>(LocationOf(**h, position));
}

absl::Status Segment::ForEachBatchHeader(
    const std::function<void(const RecordBatchHeader&)>& fn) const {
  uint64_t position = 0;
  while (true) {
    absl::StatusOr<std::optional<RecordBatchHeader>> h = ReadHeader(position);
    if (!h.ok()) return h.status();
    if (!*h) return absl::OkStatus();
    fn(**h);
    position += (*h)->size_in_bytes();
  }
}

absl::Status Segment::IndexBatch(const BatchLocation& batch) {
  if (batch.max_timestamp > max_timestamp_ || offset_of_max_timestamp_.value < 0) {
    max_timestamp_ = std::max(max_timestamp_, batch.max_timestamp);
    offset_of_max_timestamp_ = batch.last_offset;
  }
  if (bytes_since_last_index_entry_ > static_cast<uint64_t>(options_.index_interval_bytes)) {
    const int32_t rel = static_cast<int32_t>(batch.last_offset - base_offset_);
    if (absl::Status s = offset_index_->Append({rel, static_cast<int32_t>(batch.position)});
        !s.ok()) {
      return s;
    }
    std::optional<TimeIndexEntry> last = time_index_->last();
    if (!last || max_timestamp_ > last->timestamp) {
      const int32_t ts_rel = static_cast<int32_t>(offset_of_max_timestamp_ - base_offset_);
      if (absl::Status s = time_index_->Append({max_timestamp_, ts_rel}); !s.ok()) return s;
    }
    bytes_since_last_index_entry_ = 0;
  }
  bytes_since_last_index_entry_ += batch.size;
  next_offset_ = batch.last_offset + 1;
  if (!rolling_timestamp_ && batch.position == 0) rolling_timestamp_ = batch.max_timestamp;
  return absl::OkStatus();
}

absl::Status Segment::LoadTailState() {
  // Everything before the last offset-index entry is summarised by the indexes; the tail
  // after it is at most an index interval plus one batch.
  std::optional<OffsetIndexEntry> last_entry = offset_index_->last();
  uint64_t pos = last_entry ? static_cast<uint64_t>(last_entry->position) : 0;
  next_offset_ = base_offset_;
  max_timestamp_ = -1;
  offset_of_max_timestamp_ = Offset(-1);
  if (std::optional<TimeIndexEntry> t = time_index_->last()) {
    max_timestamp_ = t->timestamp;
    offset_of_max_timestamp_ = base_offset_ + t->relative_offset;
  }
  bytes_since_last_index_entry_ = 0;
  while (true) {
    absl::StatusOr<std::optional<BatchLocation>> loc = ReadLocation(pos);
    if (!loc.ok()) return loc.status();
    if (!*loc) break;
    const BatchLocation& b = **loc;
    if (b.max_timestamp > max_timestamp_ || offset_of_max_timestamp_.value < 0) {
      max_timestamp_ = std::max(max_timestamp_, b.max_timestamp);
      offset_of_max_timestamp_ = b.last_offset;
    }
    next_offset_ = b.last_offset + 1;
    bytes_since_last_index_entry_ += b.size;
    pos += b.size;
  }
  rolling_timestamp_.reset();
  if (size_ > 0) {
    absl::StatusOr<std::optional<BatchLocation>> first = ReadLocation(0);
    if (!first.ok()) return first.status();
    if (*first) rolling_timestamp_ = (*first)->max_timestamp;
  }
  return absl::OkStatus();
}

absl::Status Segment::CheckIndexesAgreeWithLog() const {
  // The last offset-index entry must name the batch at its position; the last time-index
  // entry an offset the log holds.
  if (std::optional<OffsetIndexEntry> e = offset_index_->last()) {
    absl::StatusOr<std::optional<BatchLocation>> at =
        ReadLocation(static_cast<uint64_t>(e->position));
    if (!at.ok()) return at.status();
    if (!*at || (*at)->last_offset != base_offset_ + e->relative_offset) {
      return absl::DataLossError(
          absl::StrCat(offset_index_->path(), ": the last entry disagrees with the log"));
    }
  }
  if (std::optional<TimeIndexEntry> e = time_index_->last()) {
    if (base_offset_ + e->relative_offset >= next_offset_) {
      return absl::DataLossError(
          absl::StrCat(time_index_->path(), ": the last entry points past the log"));
    }
  }
  return absl::OkStatus();
}

absl::Status Segment::LoadAfterCleanShutdown() {
  bool sane = !indexes_need_rebuild_;
  if (sane) {
    if (std::optional<OffsetIndexEntry> e = offset_index_->last()) {
      sane =
          e->relative_offset >= 0 && e->position >= 0 && static_cast<uint64_t>(e->position) < size_;
    }
    if (std::optional<TimeIndexEntry> e = time_index_->last()) {
      sane = sane && e->relative_offset >= 0;
    }
  }
  if (sane) {
    absl::Status s = LoadTailState();
    if (s.ok()) s = CheckIndexesAgreeWithLog();
    if (s.ok()) return s;
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    Logger().warn("{}: {}; recovering the segment", log_->path(), s.message());
  }
  absl::StatusOr<RecoveryResult> r = Recover();
  if (!r.ok()) return r.status();
  return absl::OkStatus();
}

absl::StatusOr<Segment::RecoveryResult> Segment::Recover() {
  indexes_need_rebuild_ = false;
  dirty_ = true;
  if (absl::Status s = offset_index_->Reset(); !s.ok()) return s;
  if (absl::Status s = time_index_->Reset(); !s.ok()) return s;
  next_offset_ = base_offset_;
  max_timestamp_ = -1;
  offset_of_max_timestamp_ = Offset(-1);
  rolling_timestamp_.reset();
  bytes_since_last_index_entry_ = 0;

  absl::StatusOr<uint64_t> file_size = log_->Size();
  if (!file_size.ok()) return file_size.status();
  size_ = *file_size;
  RecoveryResult result;
  std::vector<uint8_t> buf;
  uint64_t pos = 0;
  size_t want = kRecoveryChunk;
  while (pos < *file_size && result.reason.empty()) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(want, *file_size - pos));
    buf.resize(len);
    absl::StatusOr<size_t> got = log_->ReadAt(pos, buf);
    if (!got.ok()) return got.status();
    if (*got != len) return absl::DataLossError(log_->path() + ": short read during recovery");
    protocol::RecordBatchIterator it(std::span<const uint8_t>(buf.data(), len));
    while (it.Next()) {
      const RecordBatchHeader& h = it.batch().header();
      const uint64_t at = pos + it.batch().position();
      if (h.base_offset < next_offset_) {
        result.reason = absl::StrCat("batch offset ", h.base_offset.value,
                                     " is below the expected ", next_offset_.value);
      } else if (h.last_offset() - base_offset_ > std::numeric_limits<int32_t>::max()) {
        result.reason = absl::StrCat("batch offset ", h.last_offset().value,
                                     " does not fit the segment based at ", base_offset_.value);
      }
      if (!result.reason.empty()) {
        result.valid_bytes = at;
        break;
      }
      if (absl::Status s = IndexBatch(LocationOf(h, at)); !s.ok()) return s;
      result.valid_bytes = at + h.size_in_bytes();
    }
    if (!result.reason.empty()) break;
    if (!it.status().ok()) {
      result.reason = std::string(it.status().message());
      break;
    }
    const size_t consumed = it.position();
    if (!it.has_partial_tail()) {
      pos += consumed;
      want = kRecoveryChunk;
      continue;
    }
    // A batch continues past the buffer: read it whole next time, unless the file ends
    // first (a torn write).
    const uint64_t tail_at = pos + consumed;
    uint64_t needed = kLogOverhead;
    if (len - consumed >= kLogOverhead) {
      needed = kLogOverhead + static_cast<uint32_t>(be::Load32(buf.data() + consumed + 8));
    }
    if (pos + len == *file_size || tail_at + needed > *file_size) {
      result.reason =
          absl::StrCat("incomplete batch (", *file_size - tail_at, " of its bytes are on disk)");
      break;
    }
    pos = tail_at;
    want = std::max<size_t>(kRecoveryChunk, needed);
  }
  if (result.reason.empty()) result.valid_bytes = *file_size;
  result.truncated_bytes = *file_size - result.valid_bytes;
  if (result.truncated_bytes > 0) {
    Logger().warn("{}: truncating {} bytes at position {}: {}", log_->path(),
                  result.truncated_bytes, result.valid_bytes, result.reason);
    if (absl::Status s = log_->Truncate(result.valid_bytes); !s.ok()) return s;
  }
  size_ = result.valid_bytes;  // IndexBatch set next offset, timestamps, rolling time
  if (absl::Status s = txn_index_->TruncateTo(next_offset_); !s.ok()) return s;
  return result;
}

int64_t Segment::TimeWaitedForRoll(int64_t now_ms, int64_t new_batch_timestamp) const {
  if (rolling_timestamp_ && *rolling_timestamp_ >= 0) {
    return new_batch_timestamp - *rolling_timestamp_;
  }
  return now_ms - created_ms_;
}

bool Segment::CanHoldOffset(Offset last) const {
  return last >= base_offset_ && last - base_offset_ <= std::numeric_limits<int32_t>::max();
}

bool Segment::IndexFull() const {
  return offset_index_->full() ||
         static_cast<int64_t>((time_index_->entries() + 1) * TimeIndexEntry::kSize) >
             options_.max_index_bytes;
}

absl::Status Segment::Append(std::span<const uint8_t> batches, const LogAppendInfo& info) {
  if (!CanHoldOffset(info.first_offset) || !CanHoldOffset(info.last_offset)) {
    return absl::InternalError(
        absl::StrCat("offsets ", info.first_offset.value, "..", info.last_offset.value,
                     " do not fit the segment based at ", base_offset_.value));
  }
  if (size_ + batches.size() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InternalError("segment position would overflow 31 bits");
  }
  const uint64_t old_size = size_;
  const Offset old_next = next_offset_;
  const int64_t old_max_ts = max_timestamp_;
  const Offset old_max_ts_offset = offset_of_max_timestamp_;
  const std::optional<int64_t> old_rolling = rolling_timestamp_;
  const uint64_t old_bytes_since = bytes_since_last_index_entry_;
  auto undo = [&](absl::Status cause) {
    (void)log_->Truncate(old_size);
    const int32_t rel = static_cast<int32_t>(old_next - base_offset_);
    (void)offset_index_->TruncateFromRelativeOffset(rel);
    (void)time_index_->TruncateFromRelativeOffset(rel);
    size_ = old_size;
    next_offset_ = old_next;
    max_timestamp_ = old_max_ts;
    offset_of_max_timestamp_ = old_max_ts_offset;
    rolling_timestamp_ = old_rolling;
    bytes_since_last_index_entry_ = old_bytes_since;
    return cause;
  };
  dirty_ = true;
  if (absl::Status s = log_->WriteAt(size_, batches); !s.ok()) return undo(s);
  for (size_t p = 0; p + kRecordBatchHeaderSize <= batches.size();) {
    RecordBatchHeader h = RecordBatchHeader::Decode(batches.data() + p);
    if (absl::Status s = IndexBatch(LocationOf(h, old_size + p)); !s.ok()) return undo(s);
    p += h.size_in_bytes();
  }
  size_ = old_size + batches.size();
  return absl::OkStatus();
}

std::optional<BatchLocation> Segment::IndexedBatch(const OffsetIndexEntry& e) const {
  // An index entry is used only if the log agrees with it: a damaged index costs a longer
  // scan, never a wrong answer.
  absl::StatusOr<std::optional<BatchLocation>> at =
      ReadLocation(static_cast<uint64_t>(std::max(e.position, 0)));
  if (!at.ok() || !*at || (*at)->last_offset != base_offset_ + e.relative_offset) {
    return std::nullopt;
  }
  return *at;
}

absl::StatusOr<std::optional<BatchLocation>> Segment::FindBatch(Offset offset) const {
  if (offset >= next_offset_) return std::optional<BatchLocation>();
  std::optional<BatchLocation> cur;
  if (offset > base_offset_) {
    absl::StatusOr<std::optional<OffsetIndexEntry>> e =
        offset_index_->Lookup(static_cast<int32_t>(offset - base_offset_));
    if (!e.ok()) return e.status();
    if (*e) cur = IndexedBatch(**e);
  }
  if (!cur) {
    absl::StatusOr<std::optional<BatchLocation>> first = ReadLocation(0);
    if (!first.ok() || !*first) return first;
    cur = *first;
  }
  while (cur->last_offset < offset) {
    absl::StatusOr<std::optional<BatchLocation>> next = ReadLocation(cur->position + cur->size);
    if (!next.ok() || !*next) return next;
    cur = *next;
  }
  return cur;
}

absl::StatusOr<Segment::ReadSlice> Segment::Read(Offset offset, uint64_t max_bytes,
                                                 Offset max_offset, bool min_one_batch) const {
  ReadSlice out;
  absl::StatusOr<std::optional<BatchLocation>> start = FindBatch(offset);
  if (!start.ok()) return start.status();
  if (!*start) {
    out.reached_end = true;
    return out;
  }
  const uint64_t begin = (*start)->position;
  uint64_t end = begin;
  std::optional<BatchLocation> cur = *start;
  // Jump over the batches the offset index vouches for: an entry (last offset L of the
  // batch at P) with P <= begin + max_bytes and L <= max_offset means every batch in
  // [begin, P) fits the byte budget and ends below max_offset. Only the tail after P is
  // read header by header.
  const uint64_t limit = begin + std::min<uint64_t>(max_bytes, size_);
  const int64_t max_rel = max_offset - base_offset_;
  absl::StatusOr<std::optional<OffsetIndexEntry>> jump =
      offset_index_->LastBefore([&](const OffsetIndexEntry& e) {
        return static_cast<uint64_t>(e.position) > limit || e.relative_offset > max_rel;
      });
  if (!jump.ok()) return jump.status();
  if (*jump && static_cast<uint64_t>((*jump)->position) > begin) {
    if (std::optional<BatchLocation> at = IndexedBatch(**jump)) {
      end = at->position;
      cur = at;
    }
  }
  while (cur) {
    if (cur->last_offset >= max_offset) break;
    if (end - begin + cur->size > max_bytes && !(min_one_batch && end == begin)) break;
    end += cur->size;
    absl::StatusOr<std::optional<BatchLocation>> next = ReadLocation(end);
    if (!next.ok()) return next.status();
    cur = *next;
  }
  if (!cur) out.reached_end = true;
  if (end > begin) out.region = FileRegion{log_, begin, end - begin};
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Segment::ReadBatchBytes(const BatchLocation& batch) const {
  std::vector<uint8_t> bytes(batch.size);
  absl::StatusOr<size_t> n = log_->ReadAt(batch.position, bytes);
  if (!n.ok()) return n.status();
  if (*n != bytes.size()) return absl::DataLossError(log_->path() + ": short read of a batch");
  return bytes;
}

namespace {

// The first record of `bytes` (one batch) at or after start_offset that `pick` accepts.
template <typename Pick>
absl::StatusOr<std::optional<TimestampAndOffset>> FirstRecord(std::span<const uint8_t> bytes,
                                                              Offset start_offset, Pick pick) {
  absl::StatusOr<protocol::RecordBatchView> view = protocol::ParseRecordBatch(bytes);
  if (!view.ok()) return view.status();
  protocol::RecordReader reader(*view);
  while (reader.Next()) {
    const protocol::Record& r = reader.record();
    if (r.offset >= start_offset && pick(r.timestamp)) {
      return std::optional<TimestampAndOffset>(TimestampAndOffset{r.timestamp, r.offset});
    }
  }
  if (!reader.status().ok()) return reader.status();
  return std::optional<TimestampAndOffset>();
}

}  // namespace

absl::StatusOr<std::optional<TimestampAndOffset>> Segment::FindOffsetByTimestamp(
    int64_t timestamp, Offset start_offset) const {
  Offset from = std::max(start_offset, base_offset_);
  absl::StatusOr<std::optional<TimeIndexEntry>> e = time_index_->Lookup(timestamp);
  if (!e.ok()) return e.status();
  // The entry's batch is the first to reach its timestamp; earlier records are all older.
  if (*e) from = std::max(from, base_offset_ + (*e)->relative_offset);
  absl::StatusOr<std::optional<BatchLocation>> loc = FindBatch(from);
  if (!loc.ok()) return loc.status();
  while (*loc) {
    const BatchLocation& b = **loc;
    if (b.max_timestamp >= timestamp) {
      absl::StatusOr<std::vector<uint8_t>> bytes = ReadBatchBytes(b);
      if (!bytes.ok()) return bytes.status();
      auto found = FirstRecord(*bytes, start_offset, [&](int64_t ts) { return ts >= timestamp; });
      if (!found.ok() || *found) return found;
    }
    loc = ReadLocation(b.position + b.size);
    if (!loc.ok()) return loc.status();
  }
  return std::optional<TimestampAndOffset>();
}

absl::StatusOr<std::optional<TimestampAndOffset>> Segment::FindMaxTimestampRecord() const {
  if (empty() || offset_of_max_timestamp_.value < 0) return std::optional<TimestampAndOffset>();
  absl::StatusOr<std::optional<BatchLocation>> loc = FindBatch(offset_of_max_timestamp_);
  if (!loc.ok()) return loc.status();
  if (!*loc) return std::optional<TimestampAndOffset>();
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadBatchBytes(**loc);
  if (!bytes.ok()) return bytes.status();
  const int64_t max_ts = max_timestamp_;
  auto found = FirstRecord(*bytes, base_offset_, [&](int64_t ts) { return ts == max_ts; });
  if (!found.ok() || *found) return found;
  // A batch whose header overstates its records (written before validation existed):
  // the batch's own last offset stands for it, as Kafka's shallow offset does.
  return std::optional<TimestampAndOffset>(TimestampAndOffset{max_ts, (*loc)->last_offset});
}

absl::StatusOr<uint64_t> Segment::TruncateTo(Offset offset) {
  absl::StatusOr<std::optional<BatchLocation>> loc = FindBatch(offset);
  if (!loc.ok()) return loc.status();
  if (!*loc) return uint64_t{0};
  const uint64_t cut = (*loc)->position;
  dirty_ = true;
  const uint64_t removed = size_ - cut;
  const int32_t rel = static_cast<int32_t>((*loc)->base_offset - base_offset_);
  if (absl::Status s = log_->Truncate(cut); !s.ok()) return s;
  if (absl::Status s = offset_index_->TruncateFromRelativeOffset(rel); !s.ok()) return s;
  if (absl::Status s = time_index_->TruncateFromRelativeOffset(rel); !s.ok()) return s;
  if (absl::Status s = txn_index_->TruncateTo((*loc)->base_offset); !s.ok()) return s;
  size_ = cut;
  if (absl::Status s = LoadTailState(); !s.ok()) return s;
  return removed;
}

absl::Status Segment::OnBecomeInactive() {
  if (offset_of_max_timestamp_.value < 0) return absl::OkStatus();
  std::optional<TimeIndexEntry> last = time_index_->last();
  if (last && last->timestamp >= max_timestamp_) return absl::OkStatus();
  dirty_ = true;
  return time_index_->Append(
      {max_timestamp_, static_cast<int32_t>(offset_of_max_timestamp_ - base_offset_)});
}

absl::StatusOr<Segment::SyncPlan> Segment::PrepareFlush() {
  // Cleared first: an append after this (once the log's lock is released) sets it again.
  dirty_ = false;
  absl::Status s = offset_index_->WritePending();
  if (s.ok()) s = time_index_->WritePending();
  if (!s.ok()) {
    dirty_ = true;
    return s;
  }
  return SyncPlan{log_, {offset_index_->path(), time_index_->path(), txn_index_->path()}};
}

absl::Status Segment::Sync(const SyncPlan& plan) {
  absl::Status s = plan.log->Sync();
  for (const std::string& path : plan.index_paths) {
    if (s.ok()) s = SyncPath(fs_, path);
  }
  if (!s.ok()) dirty_ = true;
  return s;
}

absl::Status Segment::Flush() {
  absl::StatusOr<SyncPlan> plan = PrepareFlush();
  if (!plan.ok()) return plan.status();
  return Sync(*plan);
}

std::vector<std::string> Segment::FilePaths(const std::string& dir, Offset base_offset,
                                            std::string_view extra_suffix) {
  std::vector<std::string> out;
  for (std::string_view suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix, kTxnIndexSuffix}) {
    out.push_back(JoinPath(dir, FileName(base_offset, suffix) + std::string(extra_suffix)));
  }
  return out;
}

std::vector<std::string> Segment::FilePaths() const {
  return FilePaths(dir_, base_offset_, suffix_);
}

absl::Status Segment::AddSuffix(std::string_view suffix) {
  std::vector<std::string> from = FilePaths();
  std::string old_suffix = suffix_;
  suffix_ += std::string(suffix);
  std::vector<std::string> to = FilePaths();
  for (size_t i = 0; i < from.size(); ++i) {
    if (!fs_.Exists(from[i])) continue;
    if (absl::Status s = fs_.Rename(from[i], to[i]); !s.ok()) {
      suffix_ = old_suffix;
      return s;
    }
  }
  // The indexes open their files by path: follow the rename (FilePaths' order).
  offset_index_->SetPath(to[1]);
  time_index_->SetPath(to[2]);
  txn_index_->SetPath(to[3]);
  return absl::OkStatus();
}

}  // namespace fjord::storage
