#pragma once
// The sparse indexes of a log segment, in Kafka's on-disk formats:
//
//   .index      OffsetIndex: 8-byte entries  [relative offset int32 BE][position int32 BE]
//   .timeindex  TimeIndex:  12-byte entries  [timestamp int64 BE][relative offset int32 BE]
//
// Both are append-only and sorted by their key. An entry maps a key to the first batch at
// or after it; lookups return the last entry whose key is <= the target (the place to
// start scanning the segment). Entries are appended as the segment grows (one per
// `index.interval.bytes` of log) and the file holds exactly the entries, no preallocated
// tail. Appended entries reach the file in groups of kMaxPending (and at every Sync and on
// destruction), so an append of the log costs one write, not two: an index that lags its
// log is still correct (lookups scan further), and recovery rebuilds it anyway. The newest entries
// (kWarmEntries) are also kept in memory, since nearly every lookup is near the tail; older ones
// are read with a binary search over the file.
//
// An index holds no file descriptor between operations (Kafka maps its indexes and closes
// them): writes open the file, write and close it, and a search that misses the warm
// entries opens it for the length of that search. A broker with 15,000 partitions so holds
// one descriptor per segment (its log), not four.
//
// Owned by its Segment, on the partition's event loop. An index is never trusted after an
// unclean stop: recovery rebuilds it from the log.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

struct OffsetIndexEntry {
  int32_t relative_offset = 0;
  int32_t position = 0;

  static constexpr size_t kSize = 8;
  using Key = int32_t;
  Key key() const { return relative_offset; }
  void Encode(uint8_t* out) const;
  static OffsetIndexEntry Decode(const uint8_t* in);
  bool operator==(const OffsetIndexEntry&) const = default;
};

struct TimeIndexEntry {
  int64_t timestamp = 0;
  int32_t relative_offset = 0;

  static constexpr size_t kSize = 12;
  using Key = int64_t;
  Key key() const { return timestamp; }
  void Encode(uint8_t* out) const;
  static TimeIndexEntry Decode(const uint8_t* in);
  bool operator==(const TimeIndexEntry&) const = default;
};

template <typename Entry>
class SparseIndex {
 public:
  static constexpr size_t kWarmEntries = 128;
  static constexpr size_t kMaxPending = 32;  // < kWarmEntries: pending entries stay warm
  ~SparseIndex();

  // Opens (creating if needed) the index at `path`, able to hold `max_bytes` of entries.
  // A file whose size is not a whole number of entries, or whose keys are not
  // non-decreasing, fails with kDataLoss: the caller rebuilds it from the log.
  static absl::StatusOr<std::unique_ptr<SparseIndex>> Open(FileSystem& fs, const std::string& path,
                                                           size_t max_bytes);
  SparseIndex(const SparseIndex&) = delete;
  SparseIndex& operator=(const SparseIndex&) = delete;

  size_t entries() const { return entries_; }
  bool full() const { return (entries_ + 1) * Entry::kSize > max_bytes_; }
  size_t size_bytes() const { return entries_ * Entry::kSize; }
  std::optional<Entry> last() const;

  // Appends an entry. The key must not be below the last one; an entry with the same key
  // as the last is skipped (the time index keeps the first offset of each timestamp).
  // Fails with kResourceExhausted when full.
  absl::Status Append(const Entry& e);

  // The last entry whose key <= target, or nullopt when every key is greater.
  absl::StatusOr<std::optional<Entry>> Lookup(typename Entry::Key target) const;
  // The first entry whose key >= target, or nullopt (time index: first offset at or
  // after a timestamp).
  absl::StatusOr<std::optional<Entry>> LookupCeiling(typename Entry::Key target) const;

  // The last entry that does not satisfy `at_or_after`, a predicate that is false, ...,
  // false, true, ..., true over the entries (both keys and offsets grow); nullopt if the
  // first entry satisfies it.
  template <typename Pred>
  absl::StatusOr<std::optional<Entry>> LastBefore(Pred at_or_after) const {
    ColdReader cold(*this);
    absl::StatusOr<size_t> p = PartitionPointIn(cold, at_or_after);
    if (!p.ok()) return p.status();
    if (*p == 0) return std::optional<Entry>();
    absl::StatusOr<Entry> e = ReadEntry(cold, *p - 1);
    if (!e.ok()) return e.status();
    return std::optional<Entry>(*e);
  }
  // Index of the first entry satisfying `at_or_after`.
  template <typename Pred>
  absl::StatusOr<size_t> PartitionPoint(Pred at_or_after) const {
    ColdReader cold(*this);
    return PartitionPointIn(cold, at_or_after);
  }

  // Drops every entry whose key >= key (log truncation).
  absl::Status TruncateFrom(typename Entry::Key key);
  // Drops every entry whose relative offset >= relative_offset. Both indexes grow in
  // offset as well as in key, so this is a binary search too.
  absl::Status TruncateFromRelativeOffset(int32_t relative_offset);
  absl::Status Reset();
  // Writes the entries not yet in the file (the newest entries_ - written_ of warm_), so
  // that an fsync of the file (SyncPath) makes every entry durable. Under the log's lock.
  absl::Status WritePending();
  // Writes pending entries, then fsyncs.
  absl::Status Sync();
  const std::string& path() const { return path_; }
  // The file was renamed (its segment got a suffix).
  void SetPath(std::string path) { path_ = std::move(path); }

 private:
  // The file for one search: opened on the first read that misses the warm entries.
  class ColdReader {
   public:
    explicit ColdReader(const SparseIndex& index) : index_(index) {}
    absl::StatusOr<const File*> Get();

   private:
    const SparseIndex& index_;
    std::unique_ptr<File> file_;
  };

  SparseIndex(FileSystem& fs, std::string path, size_t max_bytes)
      : fs_(fs), path_(std::move(path)), max_bytes_(max_bytes) {}
  absl::StatusOr<Entry> ReadEntry(ColdReader& cold, size_t i) const;
  template <typename Pred>
  absl::StatusOr<size_t> PartitionPointIn(ColdReader& cold, Pred at_or_after) const;
  // Index of the first entry with key > target (upper bound), over all entries.
  absl::StatusOr<size_t> UpperBound(ColdReader& cold, typename Entry::Key target) const;
  absl::Status TruncateToEntries(size_t n);
  absl::Status LoadWarm(const File& file);

  FileSystem& fs_;
  std::string path_;
  size_t max_bytes_;
  size_t entries_ = 0;
  size_t written_ = 0;       // entries in the file; the rest are pending in warm_
  std::vector<Entry> warm_;  // the last min(entries_, kWarmEntries) entries
};

template <typename Entry>
template <typename Pred>
absl::StatusOr<size_t> SparseIndex<Entry>::PartitionPointIn(ColdReader& reader,
                                                            Pred at_or_after) const {
  size_t cold = entries_ - warm_.size();
  if (!warm_.empty() && !at_or_after(warm_.front())) {
    auto it = std::partition_point(warm_.begin(), warm_.end(),
                                   [&](const Entry& e) { return !at_or_after(e); });
    return cold + static_cast<size_t>(it - warm_.begin());
  }
  size_t lo = 0, hi = cold;  // first index in [lo, hi) that satisfies the predicate
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<Entry> e = ReadEntry(reader, mid);
    if (!e.ok()) return e.status();
    if (!at_or_after(*e)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

using OffsetIndex = SparseIndex<OffsetIndexEntry>;
using TimeIndex = SparseIndex<TimeIndexEntry>;

extern template class SparseIndex<OffsetIndexEntry>;
extern template class SparseIndex<TimeIndexEntry>;

}  // namespace fjord::storage
