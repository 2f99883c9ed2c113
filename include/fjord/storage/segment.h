#pragma once
// One segment of a partition log: `<base>.log` holding whole record batches back to back,
// with its `.index` (offset -> position), `.timeindex` (timestamp -> offset) and
// `.txnindex` (aborted transactions). Files are named by the base offset as 20 zero-padded
// digits. Owned by its Log (shared with in-flight reads and flushes, which keep the files
// open); mutated only under the Log's lock.
//
// Invariants: the .log holds `size()` bytes of valid batches with strictly increasing
// offsets in [base_offset, next_offset); every offset fits a 32-bit delta from the base;
// index entries point at batch starts. Indexes are trusted only after a clean shutdown
// and a sanity check; otherwise Recover() rebuilds them from the log.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/file_system.h"
#include "fjord/storage/log_validator.h"
#include "fjord/storage/sparse_index.h"
#include "fjord/storage/txn_index.h"

namespace fjord::storage {

// Bytes of one segment file that a fetch sends (with sendfile on plaintext). The file
// stays open while the region lives, even if the segment is deleted meanwhile.
struct FileRegion {
  std::shared_ptr<File> file;
  uint64_t position = 0;
  uint64_t length = 0;
};

// Where one batch lies in a segment, from its header.
struct BatchLocation {
  uint64_t position = 0;
  uint32_t size = 0;
  Offset base_offset{0};
  Offset last_offset{0};
  int64_t max_timestamp = -1;
};

struct TimestampAndOffset {
  int64_t timestamp = -1;
  Offset offset{-1};
  bool operator==(const TimestampAndOffset&) const = default;
};

class Segment {
 public:
  struct Options {
    int32_t index_interval_bytes = 4096;
    int64_t max_index_bytes = 10 * 1024 * 1024;
  };

  // "00000000000000001200" + suffix (".log", ".index", ...).
  static std::string FileName(Offset base_offset, std::string_view suffix);
  // The base offset of a file named like FileName(base, suffix), or nullopt.
  static std::optional<Offset> ParseFileName(std::string_view name, std::string_view suffix);

  // A new, empty segment; existing files of the same name are emptied.
  static absl::StatusOr<std::unique_ptr<Segment>> Create(FileSystem& fs, const std::string& dir,
                                                         Offset base_offset, const Options& options,
                                                         int64_t now_ms);
  struct RecoveryResult {
    uint64_t valid_bytes = 0;
    uint64_t truncated_bytes = 0;
    std::string reason;  // why the tail was cut (empty when nothing was)
  };
  // An existing segment. With `recover` false (it was flushed before a clean shutdown) the
  // indexes are sanity-checked and the short tail past the last index entry is scanned;
  // indexes that are missing or wrong send it to Recover() anyway. With `recover` true,
  // Recover() runs and *result (if given) says what it cut.
  static absl::StatusOr<std::unique_ptr<Segment>> Open(FileSystem& fs, const std::string& dir,
                                                       Offset base_offset, const Options& options,
                                                       int64_t now_ms, bool recover,
                                                       RecoveryResult* result = nullptr);
  // Validates every batch of the .log (framing, CRC-32C, offsets growing and fitting the
  // segment), truncates at the first bad one and rebuilds the indexes from what remains.
  absl::StatusOr<RecoveryResult> Recover();

  Offset base_offset() const { return base_offset_; }
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // One past the last offset held; the base offset when empty.
  Offset next_offset() const { return next_offset_; }
  int64_t max_timestamp() const { return max_timestamp_; }
  Offset offset_of_max_timestamp() const { return offset_of_max_timestamp_; }
  // What segment.ms counts from: the first batch's largest timestamp, or the segment's
  // creation time when it has none (Kafka's rolling-based timestamp).
  int64_t TimeWaitedForRoll(int64_t now_ms, int64_t new_batch_timestamp) const;

  // Whether an append whose last offset is `last` can go here (relative offsets are 32
  // bits) and whether either index has room for another entry.
  bool CanHoldOffset(Offset last) const;
  bool IndexFull() const;

  // Appends whole batches, already validated and given their offsets. On failure nothing
  // is appended (the file is cut back) and the error is returned.
  absl::Status Append(std::span<const uint8_t> batches, const LogAppendInfo& info);

  // Calls fn with the header of every batch, in order, reading only the headers (no
  // record bytes, no CRC). Fails on a header that does not fit the segment.
  absl::Status ForEachBatchHeader(
      const std::function<void(const protocol::RecordBatchHeader&)>& fn) const;

  // The batch holding `offset` or the first after it, searching from the offset index;
  // nullopt when the segment ends before it.
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(Offset offset) const;

  struct ReadSlice {
    std::optional<FileRegion> region;
    bool reached_end = false;  // stopped at the end of the segment (not at a bound)
  };
  // Whole batches from the one holding `offset`: at most max_bytes (but the first batch
  // whole when min_one_batch, KIP-74), none whose last offset >= max_offset.
  absl::StatusOr<ReadSlice> Read(Offset offset, uint64_t max_bytes, Offset max_offset,
                                 bool min_one_batch) const;

  // The first record at or after start_offset whose timestamp >= timestamp.
  absl::StatusOr<std::optional<TimestampAndOffset>> FindOffsetByTimestamp(
      int64_t timestamp, Offset start_offset) const;
  // The record with the largest timestamp (the first of them), or nullopt when empty.
  absl::StatusOr<std::optional<TimestampAndOffset>> FindMaxTimestampRecord() const;

  // Drops every batch holding an offset >= offset (a batch holding `offset` goes whole
  // only if it starts at or after it; callers truncate at batch boundaries). Returns the
  // bytes removed.
  absl::StatusOr<uint64_t> TruncateTo(Offset offset);

  // Before a roll: writes the final time-index entry so the segment's largest timestamp
  // survives a restart.
  absl::Status OnBecomeInactive();
  // What a flush fsyncs, taken under the log's lock by PrepareFlush (which first writes
  // the indexes' pending entries, so the files hold everything up to now) and synced by
  // Sync outside it. The indexes are synced by path (they hold no descriptor); one renamed
  // or deleted meanwhile is skipped.
  struct SyncPlan {
    std::shared_ptr<File> log;
    std::vector<std::string> index_paths;
  };
  absl::StatusOr<SyncPlan> PrepareFlush();
  absl::Status Sync(const SyncPlan& plan);
  // Both steps, for a caller that holds the segment alone (open, recovery, close).
  absl::Status Flush();
  // Whether anything (log bytes, index entries) changed since the last Flush.
  bool dirty() const { return dirty_; }
  void MarkDirty() { dirty_ = true; }
  // Renames every file to <name><suffix> (".deleted" before asynchronous removal).
  absl::Status AddSuffix(std::string_view suffix);
  // The current paths of the segment's files.
  std::vector<std::string> FilePaths() const;
  // The paths of the files of the segment based at `base_offset` in `dir`, each name
  // followed by `extra_suffix`.
  static std::vector<std::string> FilePaths(const std::string& dir, Offset base_offset,
                                            std::string_view extra_suffix = {});

  const std::shared_ptr<File>& log_file() const { return log_; }
  TxnIndex& txn_index() { return *txn_index_; }
  const TxnIndex& txn_index() const { return *txn_index_; }
  OffsetIndex& offset_index() { return *offset_index_; }
  TimeIndex& time_index() { return *time_index_; }

 private:
  Segment(FileSystem& fs, std::string dir, Offset base_offset, const Options& options,
          int64_t now_ms);
  absl::Status OpenFiles(bool truncate);
  absl::Status OpenIndexes();
  // The header of the batch at `position` (checked against the segment's size), or
  // nullopt at the end of the segment; ReadLocation gives where that batch lies.
  absl::StatusOr<std::optional<protocol::RecordBatchHeader>> ReadHeader(uint64_t position) const;
  absl::StatusOr<std::optional<BatchLocation>> ReadLocation(uint64_t position) const;
  // Trusts the indexes if they look right; otherwise rebuilds them by scanning.
  absl::Status LoadAfterCleanShutdown();
  absl::Status CheckIndexesAgreeWithLog() const;
  // The batch an offset-index entry names, if the log agrees with the entry.
  std::optional<BatchLocation> IndexedBatch(const OffsetIndexEntry& e) const;
  // Recomputes next offset and largest timestamp from the last index entries and the
  // batches after them.
  absl::Status LoadTailState();
  absl::Status IndexBatch(const BatchLocation& batch);
  absl::StatusOr<std::vector<uint8_t>> ReadBatchBytes(const BatchLocation& batch) const;

  FileSystem& fs_;
  std::string dir_;
  Offset base_offset_;
  Options options_;
  int64_t created_ms_;
  std::string suffix_;  // added by AddSuffix

  std::shared_ptr<File> log_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;
  std::unique_ptr<TxnIndex> txn_index_;

  uint64_t size_ = 0;
  Offset next_offset_;
  int64_t max_timestamp_ = -1;
  Offset offset_of_max_timestamp_{-1};
  std::optional<int64_t> rolling_timestamp_;
  uint64_t bytes_since_last_index_entry_ = 0;
  bool indexes_need_rebuild_ = false;
  std::atomic<bool> dirty_{false};  // set under the log lock, cleared by Flush outside it
};

}  // namespace fjord::storage
