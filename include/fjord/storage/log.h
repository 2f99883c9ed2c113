#pragma once
// The log of one partition: an ordered set of segments in `<log.dir>/<topic>-<partition>/`,
// the leader-epoch cache, the log start offset and the recovery point. Appends go to the
// active (last) segment, which rolls on segment.bytes, segment.ms, a full index or an
// offset that no longer fits its relative index.
//
// Ownership and threads: a Log belongs to the LogManager and is used by its partition's
// event loop (appends, reads) and by the LogManager's background worker (flush,
// retention). One mutex guards the segment list and offsets; it is held for in-memory
// updates and page-cache writes, never across an fsync (Flush syncs outside it).
// Reads return FileRegions that keep their files open, so a concurrent roll, retention
// or truncation never invalidates bytes a fetch is sending.
//
// Durability: bytes below recovery_point() are fsynced. After an unclean stop, Open()
// validates everything from the segment holding the recovery point on and truncates at
// the first torn or corrupt batch. See src/storage/README.md, "Durability".

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fjord/base/clock.h"
#include "fjord/base/types.h"
#include "fjord/storage/checkpoint_file.h"
#include "fjord/storage/file_system.h"
#include "fjord/storage/leader_epoch_cache.h"
#include "fjord/storage/log_config.h"
#include "fjord/storage/log_validator.h"
#include "fjord/storage/producer_state.h"
#include "fjord/storage/segment.h"

namespace fjord::storage {

// ListOffsets' special timestamps (KIP-734 max timestamp, KIP-405 earliest local).
inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;
inline constexpr int64_t kMaxTimestamp = -3;
inline constexpr int64_t kEarliestLocalTimestamp = -4;

struct LogReadResult {
  // Whole batches, in offset order, possibly from several segments.
  std::vector<FileRegion> regions;
  uint64_t bytes = 0;
};

// Reads regions into one buffer (tests, internal readers, TLS connections).
absl::StatusOr<std::vector<uint8_t>> ReadRegions(const std::vector<FileRegion>& regions);

// Cuts `read` to the whole batches that fit in max_bytes (possibly none), walking the
// batch headers of the one region that crosses the limit. A fetch uses it to share its
// response budget across partitions read in parallel. Fails only when a header cannot
// be read; `read` is then left empty.
absl::Status TrimToWholeBatches(LogReadResult* read, uint64_t max_bytes);

class Log {
 public:
  // Runs a task off the caller's thread (the LogManager's worker); flushes after a roll
  // go there. Without one they run inline after the append returns its lock.
  using Executor = std::function<void(std::function<void()>)>;

  struct Params {
    FileSystem* fs = nullptr;
    Clock* clock = nullptr;
    std::string dir;  // the partition directory, created if missing
    TopicPartition topic_partition;
    LogConfig config;
    // From the data dir's checkpoints (0 for a new log).
    Offset recovery_point{0};
    Offset log_start_offset{0};
    // True when the data dir holds a clean-shutdown marker: nothing is rescanned.
    bool had_clean_shutdown = false;
    Executor executor;
  };

  static absl::StatusOr<std::unique_ptr<Log>> Open(Params params);
  ~Log();

  // Leader append: validates (log_validator.h), assigns offsets from the log end offset,
  // stamps `leader_epoch`, writes. Failures carry an AppendError; nothing is appended.
  // With flush.messages reached it fsyncs before returning, on the caller's thread, unless
  // the options defer that fsync to the caller (the produce path runs it on a worker); a
  // failed fsync is KAFKA_STORAGE_ERROR although the bytes are in the log.
  absl::StatusOr<LogAppendInfo> AppendAsLeader(
      std::span<uint8_t> records, LeaderEpoch leader_epoch,
      AppendOrigin origin = AppendOrigin::kClient,
      std::optional<VerificationGuard> verification = std::nullopt);
  struct LeaderAppendOptions {
    AppendOrigin origin = AppendOrigin::kClient;
    // The record checks ran already, off the loop (PrevalidateRecords): their result.
    const std::vector<int64_t>* prevalidated_max_timestamps = nullptr;
    // Set: an fsync the append owes (flush.messages) is not run here but its offset left
    // in *deferred_flush, for the caller to Flush() off its event loop before it
    // acknowledges the append.
    std::optional<Offset>* deferred_flush = nullptr;
    // KIP-890 (client appends with transaction.partition.verification.enable): a
    // transactional batch of a producer whose transaction is not yet open here is written
    // only with the guard StartTxnVerification handed out for it (the sentinel, or another
    // guard, is INVALID_TXN_STATE). nullopt: no verification (it is off, or a coordinator's
    // own write).
    std::optional<VerificationGuard> verification;
  };
  absl::StatusOr<LogAppendInfo> AppendAsLeader(std::span<uint8_t> records, LeaderEpoch leader_epoch,
                                               const LeaderAppendOptions& options);
  // Follower append: keeps the leader's offsets and epochs (which feed the epoch cache).
  absl::StatusOr<LogAppendInfo> AppendAsFollower(std::span<const uint8_t> records);

  // Whole batches from the one holding start_offset: at most max_bytes (the first batch
  // whole anyway when min_one_message), none whose last offset >= max_offset (the high
  // watermark or last stable offset). kOutOfRange when start_offset is outside
  // [log start offset, log end offset].
  absl::StatusOr<LogReadResult> Read(Offset start_offset, uint64_t max_bytes, Offset max_offset,
                                     bool min_one_message) const;

  // ListOffsets: the first record with timestamp >= `timestamp`, or one of the special
  // timestamps above; nullopt when no record is that recent.
  absl::StatusOr<std::optional<TimestampAndOffset>> FetchOffsetByTimestamp(int64_t timestamp) const;

  // Transactions (KIP-98): the first offset of the oldest open transaction (the last
  // stable offset is the high watermark without one); the aborted transactions overlapping
  // [from, upper), from the segments' transaction indexes; every producer's state.
  std::optional<Offset> FirstUnstableOffset() const;
  absl::StatusOr<std::vector<AbortedTxn>> CollectAbortedTxns(Offset from, Offset upper) const;
  std::vector<std::pair<ProducerId, ProducerEntry>> Producers() const;
  // KIP-890: before the first transactional batch of a producer is verified with its
  // transaction coordinator, the guard its append must present; the sentinel when the
  // producer's transaction is already open here (the batch needs no verification).
  VerificationGuard StartTxnVerification(ProducerId producer_id, int32_t first_seq,
                                         ProducerEpoch epoch);
  // producer.id.expiration.ms: forgets producers without an open transaction whose last
  // write is older than `cutoff_ms`. Returns how many.
  size_t ExpireProducers(int64_t cutoff_ms);

  Offset log_start_offset() const;
  Offset log_end_offset() const;
  Offset recovery_point() const;
  uint64_t size_bytes() const;
  size_t segment_count() const;
  LogConfig config() const;
  void UpdateConfig(const LogConfig& config);
  const TopicPartition& topic_partition() const { return tp_; }
  const std::string& dir() const { return dir_; }

  // fsyncs every segment holding offsets below `offset` (and the directory), then moves
  // the recovery point there. Concurrent appends go on meanwhile.
  absl::Status Flush(Offset offset);
  absl::Status FlushAll() { return Flush(log_end_offset()); }
  // True when flush.ms has passed since the last flush with unflushed data.
  bool FlushDue(int64_t now_ms) const;

  // Starts a new active segment at the log end offset (no-op when the active is empty).
  absl::Status Roll();

  // Follower truncation: drops every batch at or after `offset` (a batch holding it goes
  // whole). Returns true when anything was removed.
  absl::StatusOr<bool> TruncateTo(Offset offset);
  // Drops everything and restarts the log empty at `offset` (a follower far behind).
  absl::Status TruncateFullyAndStartAt(Offset offset);

  // DeleteRecords: moves the log start offset up to `offset` (<= log end offset, else
  // kOutOfRange). Segments wholly below it go at the next DeleteOldSegments.
  absl::StatusOr<bool> MaybeIncrementLogStartOffset(Offset offset);
  // Retention: deletes the oldest segments that are past retention.ms, beyond
  // retention.bytes or below the log start offset, but only those wholly below
  // `high_watermark`. Files are renamed `.deleted` and removed file.delete.delay.ms later
  // by DeleteExpiredFiles. Returns the number of segments deleted.
  absl::StatusOr<int> DeleteOldSegments(Offset high_watermark);
  absl::Status DeleteExpiredFiles(int64_t now_ms);

  // OffsetForLeaderEpoch: (largest epoch <= requested, end offset of that epoch).
  std::pair<LeaderEpoch, Offset> EndOffsetForEpoch(LeaderEpoch epoch) const;
  std::optional<LeaderEpoch> LatestEpoch() const;

  // Clean shutdown of this log: everything fsynced; the Log must not be used after.
  absl::Status Close();
  // Removes the partition directory and everything in it (partition deletion); the Log
  // must not be used after.
  absl::Status Delete();

 private:
  explicit Log(Params params);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Segment& active() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return *segments_.rbegin()->second; }
  Segment::Options SegmentOptions() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Rolls when the next append of `bytes` would break a roll rule; returns whether a
  // flush of the old segment is owed.
  absl::StatusOr<bool> MaybeRoll(uint64_t bytes, const LogAppendInfo& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RollLocked(Offset new_base) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The fsyncs an append owes once the lock is released: of the segment it rolled away
  // from (on the executor), and of everything (flush.messages reached, before returning).
  struct FlushPlan {
    std::optional<Offset> after_roll;
    std::optional<Offset> now;
  };
  // Writes validated batches; `leader_epoch` is set for leader appends (one epoch for all
  // batches), unset for followers (each batch's own epoch feeds the cache).
  absl::StatusOr<LogAppendInfo> Write(std::span<const uint8_t> batches, LogAppendInfo info,
                                      std::optional<LeaderEpoch> leader_epoch, FlushPlan* plan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AfterAppend(const FlushPlan& plan);
  // Removes segments from the list and schedules their files' deletion.
  absl::Status RemoveSegments(const std::vector<Offset>& bases) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TruncateFullyLocked(Offset offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `epoch` from `start_offset` when it is newer than the cache's latest.
  absl::Status AssignEpoch(LeaderEpoch epoch, Offset start_offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateEpochCache(std::span<const uint8_t> batches)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // KIP-98: checks a client's idempotent batch against its producer's history; returns
  // the original batch when it is a retried duplicate, or the append error.
  // With `verification`, KIP-890's check too (ProducerStateTable::CheckVerification).
  absl::StatusOr<std::optional<ProducerBatch>> CheckProducers(
      const LogAppendInfo& info, std::optional<VerificationGuard> verification) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Records written batches and markers in the producer state; an abort goes into the
  // transaction index of the segment holding its marker.
  absl::Status RecordProducers(const std::vector<ProducerAppend>& appends)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the producer state after a load: the newest readable snapshot among
  // `snapshots` (producer_snapshot.h), then the batch headers after it.
  absl::Status LoadProducers(const std::vector<Offset>& snapshots)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a snapshot of the producer state at `offset` (the log end offset) for the
  // flush that covers it.
  void TakeProducerSnapshot(Offset offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Flush: writes and fsyncs the queued snapshots at or below `offset`, unless a
  // truncation overtook them. Failures are logged: the next load replays more instead.
  void WriteProducerSnapshots(Offset offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the snapshot files whose offsets match.
  void RemoveProducerSnapshots(const std::function<bool(Offset)>& doomed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ProducerSnapshotPath(Offset offset) const;
  // Load: applies the marker of a control batch, indexing an abort the index lacks.
  absl::Status ReplayMarker(Segment& seg, const protocol::RecordBatchHeader& h)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileSystem& fs_;
  Clock& clock_;
  const std::string dir_;
  const TopicPartition tp_;
  const Executor executor_;
  const bool had_clean_shutdown_;

  mutable absl::Mutex mu_;
  // Serializes flushes, which sync outside mu_.
  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  LogConfig config_ ABSL_GUARDED_BY(mu_);
  std::map<Offset, std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  Offset log_start_offset_ ABSL_GUARDED_BY(mu_);
  Offset recovery_point_ ABSL_GUARDED_BY(mu_);
  int64_t unflushed_records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_flush_ms_ ABSL_GUARDED_BY(mu_) = 0;
  bool dir_dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<LeaderEpochCache> epochs_ ABSL_GUARDED_BY(mu_);
  ProducerStateTable producers_ ABSL_GUARDED_BY(mu_);
  // Producer snapshots on disk, and those taken but not yet written.
  std::set<Offset> snapshots_ ABSL_GUARDED_BY(mu_);
  struct PendingSnapshot {
    Offset offset;
    std::vector<uint8_t> bytes;
  };
  std::vector<PendingSnapshot> pending_snapshots_ ABSL_GUARDED_BY(mu_);
  // Counts truncations, so a snapshot written outside mu_ knows one overtook it.
  uint64_t truncations_ ABSL_GUARDED_BY(mu_) = 0;
  struct PendingDelete {
    std::shared_ptr<Segment> segment;
    int64_t due_ms;
  };
  std::vector<PendingDelete> pending_deletes_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fjord::storage
