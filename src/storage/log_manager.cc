#include "fjord/storage/log_manager.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "logger.h"

namespace fjord::storage {
namespace {

constexpr absl::string_view kDeleteDirSuffix = "-delete";

// "<topic>-<partition>" -> the partition; nullopt for anything else in a data dir.
std::optional<TopicPartition> ParsePartitionDir(const std::string& name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  int32_t partition = 0;
  const char* begin = name.data() + dash + 1;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(begin, end, partition);
  if (ec != std::errc() || ptr != end || partition < 0) return std::nullopt;
  return TopicPartition{name.substr(0, dash), PartitionId(partition)};
}

std::string Path(const std::string& dir, std::string_view name) {
  return JoinPath(dir, std::string(name));
}

}  // namespace

LogManager::LogManager(FileSystem& fs, Clock& clock, LogManagerConfig config)
    : fs_(fs), clock_(clock), config_(std::move(config)) {}

LogManager::~LogManager() {
  bool shut;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut = shut_down_;
  }
  if (!shut) {
    if (absl::Status s = Shutdown(); !s.ok()) {
      Logger().error("log manager shutdown: {}", s.message());
    }
  }
}

absl::StatusOr<std::unique_ptr<LogManager>> LogManager::Open(FileSystem& fs, Clock& clock,
                                                             LogManagerConfig config) {
  if (config.log_dirs.empty()) return absl::InvalidArgumentError("log.dirs is empty");
  std::unique_ptr<LogManager> m(new LogManager(fs, clock, std::move(config)));
  for (const std::string& dir : m->config_.log_dirs) {
    if (absl::Status s = fs.CreateDirs(dir); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<FileLock>> lock = fs.Lock(Path(dir, kLockFileName));
    if (!lock.ok()) {
      if (lock.status().code() == absl::StatusCode::kUnavailable) {
        return absl::FailedPreconditionError(absl::StrCat("data directory ", dir,
                                                          " is in use by another Fjord process (",
                                                          Path(dir, kLockFileName), " is locked)"));
      }
      return lock.status();
    }
    m->dirs_.push_back({dir, std::move(*lock)});
  }
  if (absl::Status s = m->LoadDataDirs(); !s.ok()) {
    std::lock_guard<std::mutex> lock(m->mu_);
    m->shut_down_ = true;  // nothing to shut down cleanly
    return s;
  }
  return m;
}

Log::Params LogManager::ParamsFor(const std::string& data_dir, const TopicPartition& tp,
                                  const LogConfig& config) {
  Log::Params p;
  p.fs = &fs_;
  p.clock = &clock_;
  p.dir = JoinPath(data_dir, tp.DirName());
  p.topic_partition = tp;
  p.config = config;
  p.executor = [this](std::function<void()> task) { Submit(std::move(task)); };
  return p;
}

absl::Status LogManager::LoadDataDirs() {
  struct Job {
    Log::Params params;
    std::string data_dir;
  };
  std::vector<Job> jobs;
  for (const DataDir& d : dirs_) {
    const bool clean = fs_.Exists(Path(d.path, kCleanShutdownFileName));
    absl::StatusOr<OffsetCheckpoint> recovery =
        ReadOffsetCheckpoint(fs_, Path(d.path, kRecoveryPointCheckpointName));
    absl::StatusOr<OffsetCheckpoint> start =
        ReadOffsetCheckpoint(fs_, Path(d.path, kLogStartOffsetCheckpointName));
    // A damaged checkpoint costs a full scan, never data: recover from offset 0.
    if (!recovery.ok()) {
      Logger().warn("{}; recovering every log of {} from its start", recovery.status().message(),
                    d.path);
      recovery = OffsetCheckpoint{};
    }
    if (!start.ok()) {
      Logger().warn("{}; log start offsets fall back to the first segments",
                    start.status().message());
      start = OffsetCheckpoint{};
    }
    absl::StatusOr<std::vector<std::string>> names = fs_.List(d.path);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (absl::EndsWith(name, kDeleteDirSuffix)) {
        std::lock_guard<std::mutex> lock(mu_);
        dirs_to_remove_.push_back(JoinPath(d.path, name));
        continue;
      }
      // The metadata log lives beside the partitions but belongs to the quorum (raft/).
      if (name == kMetadataLogDirName) continue;
      std::optional<TopicPartition> tp = ParsePartitionDir(name);
      if (!tp) continue;
      Job job{ParamsFor(d.path, *tp, config_.default_config), d.path};
      // Without a recovery-point entry the whole log is scanned.
      auto rp = recovery->find(*tp);
      job.params.recovery_point = rp == recovery->end() ? Offset(0) : rp->second;
      job.params.had_clean_shutdown = clean && rp != recovery->end();
      auto so = start->find(*tp);
      if (so != start->end()) job.params.log_start_offset = so->second;
      jobs.push_back(std::move(job));
    }
  }
  // Open in parallel: num.recovery.threads.per.data.dir threads per data dir.
  const size_t threads = std::min<size_t>(
      jobs.size(),
      dirs_.size() * static_cast<size_t>(std::max(1, config_.num_recovery_threads_per_data_dir)));
  std::vector<absl::StatusOr<std::unique_ptr<Log>>> opened;
  opened.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) opened.emplace_back(absl::UnknownError("not opened"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) opened[i] = Log::Open(jobs[i].params);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  absl::Status first_error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!opened[i].ok()) {
        Logger().error("{}: {}", jobs[i].params.dir, opened[i].status().message());
        if (first_error.ok()) {
          first_error =
              absl::Status(opened[i].status().code(),
                           absl::StrCat(jobs[i].params.dir, ": ", opened[i].status().message()));
        }
        continue;
      }
      const TopicPartition& tp = jobs[i].params.topic_partition;
      if (logs_.count(tp)) {
        return absl::FailedPreconditionError(
            absl::StrCat("partition ", tp.DirName(), " is in two data dirs: ", log_data_dir_[tp],
                         " and ", jobs[i].data_dir));
      }
      logs_[tp] = std::shared_ptr<Log>(std::move(*opened[i]));
      log_data_dir_[tp] = jobs[i].data_dir;
    }
  }
  if (!first_error.ok()) return first_error;
  Logger().info("loaded {} logs from {} data dir(s)", jobs.size(), dirs_.size());
  // From here on a crash is unclean: the marker goes before anything is appended.
  for (const DataDir& d : dirs_) {
    const std::string marker = Path(d.path, kCleanShutdownFileName);
    if (fs_.Exists(marker)) {
      if (absl::Status s = fs_.Remove(marker); !s.ok()) return s;
      if (absl::Status s = fs_.SyncDir(d.path); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Log>> LogManager::GetOrCreateLog(const TopicPartition& tp,
                                                                const LogConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return absl::FailedPreconditionError("log manager is shut down");
  auto it = logs_.find(tp);
  if (it != logs_.end()) return it->second;
  // The data dir with the fewest partitions (Kafka's placement).
  std::map<std::string, size_t> counts;
  for (const DataDir& d : dirs_) counts[d.path] = 0;
  for (const auto& [p, dir] : log_data_dir_) counts[dir]++;
  const std::string* best = &dirs_.front().path;
  for (const DataDir& d : dirs_) {
    if (counts[d.path] < counts[*best]) best = &d.path;
  }
  Log::Params params = ParamsFor(*best, tp, config);
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(std::move(params));
  if (!log.ok()) return log.status();
  std::shared_ptr<Log> shared(std::move(*log));
  // The new partition directory must survive a crash.
  if (absl::Status s = fs_.SyncDir(*best); !s.ok()) return s;
  logs_[tp] = shared;
  log_data_dir_[tp] = *best;
  Logger().info("created log {} in {}", tp.DirName(), *best);
  return shared;
}

std::shared_ptr<Log> LogManager::GetLog(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

std::vector<TopicPartition> LogManager::Partitions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, log] : logs_) out.push_back(tp);
  return out;
}

std::vector<std::string> LogManager::DataDirs() const {
  std::vector<std::string> out;
  for (const DataDir& d : dirs_) out.push_back(d.path);
  return out;
}

std::string LogManager::DataDirOf(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = log_data_dir_.find(tp);
  return it == log_data_dir_.end() ? std::string() : it->second;
}

absl::Status LogManager::DeleteLog(const TopicPartition& tp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logs_.find(tp);
  if (it == logs_.end()) return absl::NotFoundError("no log for " + tp.DirName());
  const std::string data_dir = log_data_dir_[tp];
  const std::string from = JoinPath(data_dir, tp.DirName());
  const std::string to = JoinPath(data_dir, absl::StrCat(tp.DirName(), ".", clock_.NowMs(), "-",
                                                         delete_counter_++, kDeleteDirSuffix));
  if (absl::Status s = fs_.Rename(from, to); !s.ok()) return s;
  if (absl::Status s = fs_.SyncDir(data_dir); !s.ok()) return s;
  logs_.erase(it);
  log_data_dir_.erase(tp);
  dirs_to_remove_.push_back(to);
  Logger().info("deleted log {} (its files go in the background)", tp.DirName());
  return absl::OkStatus();
}

void LogManager::FlushDueLogs() {
  const int64_t now = clock_.NowMs();
  for (const TopicPartition& tp : Partitions()) {
    std::shared_ptr<Log> log = GetLog(tp);
    if (!log || !log->FlushDue(now)) continue;
    if (absl::Status s = log->FlushAll(); !s.ok()) {
      Logger().error("{}: flush failed: {}", log->dir(), s.message());
    }
  }
}

absl::Status LogManager::WriteCheckpoint(std::string_view name,
                                         const std::function<Offset(const Log&)>& get) {
  std::map<std::string, OffsetCheckpoint> per_dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const DataDir& d : dirs_) per_dir[d.path];
    for (const auto& [tp, log] : logs_) per_dir[log_data_dir_[tp]][tp] = get(*log);
  }
  absl::Status result;
  for (const auto& [dir, offsets] : per_dir) {
    absl::Status s = WriteOffsetCheckpoint(fs_, Path(dir, name), offsets);
    if (!s.ok()) {
      Logger().error("{}: {}", Path(dir, name), s.message());
      if (result.ok()) result = s;
    }
  }
  return result;
}

absl::Status LogManager::CheckpointRecoveryPoints() {
  return WriteCheckpoint(kRecoveryPointCheckpointName,
                         [](const Log& log) { return log.recovery_point(); });
}

absl::Status LogManager::CheckpointLogStartOffsets() {
  return WriteCheckpoint(kLogStartOffsetCheckpointName,
                         [](const Log& log) { return log.log_start_offset(); });
}

int LogManager::RunRetention() {
  int deleted = 0;
  for (const TopicPartition& tp : Partitions()) {
    std::shared_ptr<Log> log = GetLog(tp);
    if (!log) continue;
    const Offset hw = config_.high_watermark ? config_.high_watermark(*log) : log->log_end_offset();
    absl::StatusOr<int> n = log->DeleteOldSegments(hw);
    if (!n.ok()) {
      Logger().error("{}: retention failed: {}", log->dir(), n.status().message());
      continue;
    }
    deleted += *n;
  }
  return deleted;
}

size_t LogManager::ExpireProducers() {
  const int64_t cutoff = clock_.NowMs() - config_.producer_id_expiration_ms;
  size_t expired = 0;
  for (const TopicPartition& tp : Partitions()) {
    if (std::shared_ptr<Log> log = GetLog(tp)) expired += log->ExpireProducers(cutoff);
  }
  return expired;
}

void LogManager::RemoveDeletedFiles() {
  const int64_t now = clock_.NowMs();
  for (const TopicPartition& tp : Partitions()) {
    if (std::shared_ptr<Log> log = GetLog(tp)) {
      if (absl::Status s = log->DeleteExpiredFiles(now); !s.ok()) {
        Logger().error("{}: removing deleted segments: {}", log->dir(), s.message());
      }
    }
  }
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirs.swap(dirs_to_remove_);
  }
  for (const std::string& dir : dirs) {
    if (absl::Status s = fs_.RemoveDirRecursive(dir); !s.ok()) {
      Logger().error("removing {}: {}", dir, s.message());
    }
  }
}

void LogManager::Submit(std::function<void()> task) {
  if (!worker_running_) {
    task();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(worker_mu_);
    tasks_.push_back(std::move(task));
  }
  worker_cv_.notify_one();
}

void LogManager::StartBackgroundTasks() {
  if (worker_running_.exchange(true)) return;
  worker_ = std::thread([this] { WorkerLoop(); });
}

void LogManager::WorkerLoop() {
  struct Periodic {
    int64_t interval_ms;
    std::function<void()> run;
    int64_t due_ms;
  };
  const int64_t start = clock_.NowMs();
  std::vector<Periodic> periodic = {
      {config_.flush_scheduler_interval_ms, [this] { FlushDueLogs(); }, 0},
      {config_.recovery_point_checkpoint_interval_ms, [this] { (void)CheckpointRecoveryPoints(); },
       0},
      {config_.log_start_offset_checkpoint_interval_ms,
       [this] { (void)CheckpointLogStartOffsets(); }, 0},
      {config_.retention_check_interval_ms, [this] { RunRetention(); }, 0},
      {config_.producer_id_expiration_check_interval_ms, [this] { ExpireProducers(); }, 0},
      {1000, [this] { RemoveDeletedFiles(); }, 0},
  };
  for (Periodic& p : periodic) p.due_ms = start + std::max<int64_t>(p.interval_ms, 1);
  std::unique_lock<std::mutex> lock(worker_mu_);
  while (!stop_) {
    while (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    const int64_t now = clock_.NowMs();
    int64_t wait_ms = 1000;
    for (Periodic& p : periodic) {
      if (p.interval_ms == kUnlimited) continue;
      if (now >= p.due_ms) {
        lock.unlock();
        p.run();
        lock.lock();
        p.due_ms = now + std::max<int64_t>(p.interval_ms, 1);
      }
      wait_ms = std::min(wait_ms, p.due_ms - now);
    }
    if (stop_ || !tasks_.empty()) continue;
    worker_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)));
  }
}

absl::Status LogManager::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return absl::OkStatus();
    shut_down_ = true;
  }
  if (worker_running_) {
    {
      std::lock_guard<std::mutex> lock(worker_mu_);
      stop_ = true;
    }
    worker_cv_.notify_one();
    worker_.join();
    worker_running_ = false;
    // Tasks queued after the last turn (roll flushes) still run.
    std::deque<std::function<void()>> left;
    {
      std::lock_guard<std::mutex> lock(worker_mu_);
      left.swap(tasks_);
    }
    for (auto& task : left) task();
  }
  absl::Status result;
  std::vector<std::shared_ptr<Log>> logs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [tp, log] : logs_) logs.push_back(log);
  }
  for (const std::shared_ptr<Log>& log : logs) {
    if (absl::Status s = log->Close(); !s.ok()) {
      Logger().error("{}: close failed: {}", log->dir(), s.message());
      if (result.ok()) result = s;
    }
  }
  if (absl::Status s = CheckpointRecoveryPoints(); !s.ok() && result.ok()) result = s;
  if (absl::Status s = CheckpointLogStartOffsets(); !s.ok() && result.ok()) result = s;
  if (!result.ok()) return result;  // no marker: the next start recovers
  for (const DataDir& d : dirs_) {
    if (absl::Status s = fs_.WriteFileAtomically(Path(d.path, kCleanShutdownFileName), {});
        !s.ok()) {
      return s;
    }
  }
  Logger().info("log manager shut down cleanly ({} logs)", logs.size());
  return absl::OkStatus();
}

}  // namespace fjord::storage
