#pragma once
// FaultInjectionFileSystem wraps a real FileSystem and lets a test decide what a crash or a
// failing disk does. It remembers, per file, the size at its last Sync; SimulateCrash()
// then cuts every file back to what was durable, or leaves a torn (optionally garbage)
// part of the unsynced tail. It can also fail writes with ENOSPC once a byte budget is
// spent, fail reads or syncs with EIO, and slow every sync down.
//
// The model is that of append-only files (the log, the index appends): a rewrite in place
// of synced bytes is treated as durable. Thread-safe; meant for tests only.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  enum class CrashMode {
    kDropUnsynced,  // every file back to its synced size
    kTornTail,      // a random prefix of each unsynced tail survives
    kGarbageTail,   // as kTornTail, and the surviving part has random bytes flipped
  };

  explicit FaultInjectionFileSystem(FileSystem& base, uint64_t seed = 1)
      : base_(base), rng_(seed) {}

  // Applies `mode` to every file written since its last sync. Open File objects must be
  // closed first (a crashed process has none).
  absl::Status SimulateCrash(CrashMode mode);

  // Writes fail with kResourceExhausted (ENOSPC) once `bytes` more have been written;
  // the write that crosses the budget writes its first part, as a real full disk does.
  void SetWriteBudget(uint64_t bytes);
  void ClearWriteBudget();
  void FailReads(bool on);
  void FailSyncs(bool on);
  void SetSyncDelay(std::chrono::milliseconds d);

  // FileSystem.
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status CreateDirs(const std::string& path) override { return base_.CreateDirs(path); }
  absl::Status RemoveDirRecursive(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override { return base_.SyncDir(path); }
  bool Exists(const std::string& path) override { return base_.Exists(path); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& path) override {
    return base_.List(path);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    return base_.Lock(path);
  }

 private:
  friend class FaultFile;
  struct State {
    uint64_t synced_size = 0;
  };
  // Hooks for FaultFile.
  absl::Status BeforeWrite(size_t n, size_t* allowed);
  absl::Status BeforeRead();
  absl::Status OnSync(const std::string& path, uint64_t size);
  void OnTruncate(const std::string& path, uint64_t size);

  FileSystem& base_;
  std::mutex mu_;
  std::map<std::string, State> files_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  bool budget_on_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t budget_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_reads_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_syncs_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds sync_delay_ ABSL_GUARDED_BY(mu_){0};
};

}  // namespace fjord::storage
