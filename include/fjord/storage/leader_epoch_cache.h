#pragma once
// LeaderEpochCache: a partition's leader epochs and the offset at which each began
// (KIP-101), kept in memory and persisted to `<partition dir>/leader-epoch-checkpoint`
// (format in checkpoint_file.h). It answers OffsetForLeaderEpoch, which a follower uses
// to find where its log diverges from the leader's, instead of trusting the high watermark.
//
// Invariant: epochs and start offsets both grow strictly from entry to entry.
//
// Owned by the partition's Log, on its event loop; not thread-safe. Every change is written
// to the checkpoint before the call returns (atomically: temp file, fsync, rename). When that
// write fails the in-memory entries stay as they were and the error is returned; the file
// then holds the old or the new entries, so the caller treats it as a failed log directory.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/checkpoint_file.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

class LeaderEpochCache {
 public:
  static constexpr char kFileName[] = "leader-epoch-checkpoint";
  // OffsetForLeaderEpoch's answer when the epoch is unknown (UNDEFINED_EPOCH and
  // UNDEFINED_EPOCH_OFFSET in Kafka).
  static constexpr LeaderEpoch kUndefinedEpoch{-1};
  static constexpr Offset kUndefinedOffset{-1};

  // Loads the checkpoint at `path` (a missing file is an empty cache). A malformed file, or
  // one with a negative epoch or offset, is kDataLoss. Entries that would not survive
  // Assign (an epoch starting where a later one starts) are dropped, as Kafka does on load.
  // `fs` must outlive the cache.
  static absl::StatusOr<std::unique_ptr<LeaderEpochCache>> Open(FileSystem& fs, std::string path);

  // Records that `epoch` begins at `start_offset` (the first batch appended in that epoch).
  // Negative values are kInvalidArgument. Nothing changes when `epoch` is the latest epoch
  // and `start_offset` is not below its start. Otherwise every entry whose epoch >= `epoch`
  // or whose start offset >= `start_offset` is dropped, the new one appended, and the
  // checkpoint written.
  absl::Status Assign(LeaderEpoch epoch, Offset start_offset);

  std::optional<EpochEntry> Latest() const;
  std::optional<LeaderEpoch> LatestEpoch() const;
  const std::vector<EpochEntry>& entries() const { return entries_; }
  const std::string& path() const { return path_; }

  // OffsetForLeaderEpoch: the largest known epoch <= `requested` and the end offset of
  // `requested` (the start of the next higher known epoch, or `log_end_offset` when
  // `requested` is the latest epoch). Returns (kUndefinedEpoch, kUndefinedOffset) when
  // `requested` is undefined, the cache is empty, or `requested` is above every known
  // epoch. When `requested` is below every known epoch the answer is (`requested`, start
  // of the first epoch): that history is gone from the log, and the follower must truncate
  // to the leader's start.
  std::pair<LeaderEpoch, Offset> EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const;

  // The epoch whose range holds `offset`: the last entry starting at or before it (the
  // latest epoch for offsets past its start), or nullopt when `offset` precedes every entry.
  std::optional<LeaderEpoch> EpochForOffset(Offset offset) const;

  // After the log is truncated to `end_offset`: drops the entries starting at or after it.
  // Does nothing when `end_offset` is negative or the latest epoch starts below it.
  absl::Status TruncateFromEnd(Offset end_offset);
  // After the log start offset advances to `start_offset`: drops the entries starting at or
  // before it except the last of them, which now starts at `start_offset`.
  absl::Status TruncateFromStart(Offset start_offset);

  // Drops every entry and rewrites the checkpoint.
  absl::Status Clear();
  // Writes the checkpoint with the current entries.
  absl::Status Flush();

 private:
  LeaderEpochCache(FileSystem& fs, std::string path, std::vector<EpochEntry> entries)
      : fs_(fs), path_(std::move(path)), entries_(std::move(entries)) {}
  // Writes `next` to the checkpoint and, only if that succeeds, makes it the entries.
  absl::Status Commit(std::vector<EpochEntry> next);

  FileSystem& fs_;
  std::string path_;
  std::vector<EpochEntry> entries_;  // epochs and start offsets strictly increasing
};

}  // namespace fjord::storage
