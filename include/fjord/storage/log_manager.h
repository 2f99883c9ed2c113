#pragma once
// LogManager: every partition log under `log.dirs`. At start-up it locks each data dir
// (a second process on the same dir fails with a clear error), reads the dir's
// checkpoints and clean-shutdown marker, and opens all logs in parallel (recovering them
// after an unclean stop). While running it owns the background work: flushes (flush.ms,
// and the segment flush after each roll), recovery-point and log-start-offset
// checkpoints, retention, and removal of deleted files. At shutdown it flushes every log,
// writes the checkpoints and the clean-shutdown marker.
//
// Thread-safe. Logs are shared with their partitions (std::shared_ptr); a deleted
// partition's Log must no longer be used by its holder.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/clock.h"
#include "fjord/storage/checkpoint_file.h"
#include "fjord/storage/file_system.h"
#include "fjord/storage/log.h"
#include "fjord/storage/log_config.h"

namespace fjord::storage {

// The metadata quorum's log directory inside a data dir; the LogManager never loads it.
inline constexpr const char* kMetadataLogDirName = "__cluster_metadata-0";

inline constexpr std::string_view kLockFileName = ".lock";
inline constexpr std::string_view kCleanShutdownFileName = ".fjord_cleanshutdown";
inline constexpr std::string_view kRecoveryPointCheckpointName = "recovery-point-offset-checkpoint";
inline constexpr std::string_view kLogStartOffsetCheckpointName = "log-start-offset-checkpoint";

struct LogManagerConfig {
  std::vector<std::string> log_dirs;  // log.dirs
  // num.recovery.threads.per.data.dir (KIP-1030 made it 2).
  int num_recovery_threads_per_data_dir = 2;
  // log.retention.check.interval.ms
  int64_t retention_check_interval_ms = 5 * 60 * 1000;
  // log.flush.scheduler.interval.ms: how often flush.ms is checked. Kafka leaves it at
  // Long.MAX_VALUE, which makes a topic's flush.ms do nothing until an operator also sets
  // this; Fjord checks every second so flush.ms works on its own.
  int64_t flush_scheduler_interval_ms = 1000;
  // log.flush.offset.checkpoint.interval.ms, log.flush.start.offset.checkpoint.interval.ms
  int64_t recovery_point_checkpoint_interval_ms = 60 * 1000;
  int64_t log_start_offset_checkpoint_interval_ms = 60 * 1000;
  // producer.id.expiration.ms and producer.id.expiration.check.interval.ms: producers
  // without an open transaction idle this long are forgotten.
  int64_t producer_id_expiration_ms = 24 * 3600 * 1000;
  int64_t producer_id_expiration_check_interval_ms = 10 * 60 * 1000;
  // The config of logs created without one, and of logs found at start-up.
  LogConfig default_config;
  // The offset below which retention may delete (the partition's high watermark). Until
  // replication supplies one, the log end offset.
  std::function<Offset(const Log&)> high_watermark;
};

class LogManager {
 public:
  static absl::StatusOr<std::unique_ptr<LogManager>> Open(FileSystem& fs, Clock& clock,
                                                          LogManagerConfig config);
  ~LogManager();
  LogManager(const LogManager&) = delete;
  LogManager& operator=(const LogManager&) = delete;

  // The partition's log, created (in the data dir holding the fewest partitions) when
  // missing. `config` applies to a new log; an existing one keeps its own.
  absl::StatusOr<std::shared_ptr<Log>> GetOrCreateLog(const TopicPartition& tp,
                                                      const LogConfig& config);
  std::shared_ptr<Log> GetLog(const TopicPartition& tp) const;
  std::vector<TopicPartition> Partitions() const;
  // The configured data directories, and the one holding a partition ("" if none).
  std::vector<std::string> DataDirs() const;
  std::string DataDirOf(const TopicPartition& tp) const;
  // Removes the partition: its directory is renamed `<topic>-<partition>.<n>-delete` at
  // once (so a restart never loads it) and removed by the background worker.
  absl::Status DeleteLog(const TopicPartition& tp);

  // Background work; StartBackgroundTasks runs each on its interval, tests call them.
  void FlushDueLogs();
  absl::Status CheckpointRecoveryPoints();
  absl::Status CheckpointLogStartOffsets();
  int RunRetention();
  // Forgets idle producers in every log; returns how many.
  size_t ExpireProducers();
  void RemoveDeletedFiles();
  void StartBackgroundTasks();

  // Runs `task` on the background worker (inline when it is not running).
  void Submit(std::function<void()> task);

  // Clean shutdown: stops the worker, closes every log (fsync), writes the checkpoints
  // and the clean-shutdown marker. The manager must not be used after.
  absl::Status Shutdown();

 private:
  struct DataDir {
    std::string path;
    std::unique_ptr<FileLock> lock;
  };
  LogManager(FileSystem& fs, Clock& clock, LogManagerConfig config);
  absl::Status LoadDataDirs();
  absl::Status WriteCheckpoint(std::string_view name, const std::function<Offset(const Log&)>& get);
  Log::Params ParamsFor(const std::string& data_dir, const TopicPartition& tp,
                        const LogConfig& config);
  void WorkerLoop();

  FileSystem& fs_;
  Clock& clock_;
  const LogManagerConfig config_;
  std::vector<DataDir> dirs_;

  mutable std::mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Log>> logs_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, std::string> log_data_dir_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> dirs_to_remove_ ABSL_GUARDED_BY(mu_);
  uint64_t delete_counter_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  // The background worker.
  std::mutex worker_mu_;
  std::condition_variable worker_cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(worker_mu_);
  bool stop_ ABSL_GUARDED_BY(worker_mu_) = false;
  std::atomic<bool> worker_running_{false};
  std::thread worker_;
};

}  // namespace fjord::storage
