#include "fjord/storage/fault_injection_file_system.h"

#include <algorithm>
#include <thread>

namespace fjord::storage {

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::Status WriteAt(uint64_t offset, std::span<const uint8_t> data) override {
    size_t allowed = data.size();
    absl::Status budget = fs_->BeforeWrite(data.size(), &allowed);
    if (allowed > 0) {
      if (absl::Status s = base_->WriteAt(offset, data.first(allowed)); !s.ok()) return s;
    }
    return budget;
  }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override {
    if (absl::Status s = fs_->BeforeRead(); !s.ok()) return s;
    return base_->ReadAt(offset, out);
  }
  absl::Status Sync() override {
    absl::StatusOr<uint64_t> size = base_->Size();
    if (!size.ok()) return size.status();
    if (absl::Status s = fs_->OnSync(path(), *size); !s.ok()) return s;
    return base_->Sync();
  }
  absl::Status Truncate(uint64_t size) override {
    if (absl::Status s = base_->Truncate(size); !s.ok()) return s;
    fs_->OnTruncate(path(), size);
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }
  int NativeHandle() const override { return base_->NativeHandle(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* fs_;
  std::unique_ptr<File> base_;
};

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFileSystem::Open(const std::string& path,
                                                                     bool create) {
  bool existed = base_.Exists(path);
  absl::StatusOr<std::unique_ptr<File>> f = base_.Open(path, create);
  if (!f.ok()) return f.status();
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!files_.count(path)) {
      // A file that was there before this file system saw it counts as durable.
      uint64_t size = 0;
      if (existed) {
        absl::StatusOr<uint64_t> s = (*f)->Size();
        if (s.ok()) size = *s;
      }
      files_[path].synced_size = size;
    }
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(*f)));
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  if (absl::Status s = base_.Rename(from, to); !s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  if (absl::Status s = base_.Remove(path); !s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RemoveDirRecursive(const std::string& path) {
  if (absl::Status s = base_.RemoveDirRecursive(path); !s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  std::string prefix = path.back() == '/' ? path : path + "/";
  std::erase_if(files_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::SimulateCrash(CrashMode mode) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, state] : files_) {
    absl::StatusOr<std::unique_ptr<File>> f = base_.Open(path, /*create=*/false);
    if (!f.ok()) continue;  // removed behind our back: nothing to cut
    absl::StatusOr<uint64_t> size = (*f)->Size();
    if (!size.ok()) return size.status();
    if (*size <= state.synced_size) continue;
    uint64_t unsynced = *size - state.synced_size;
    uint64_t keep = 0;
    if (mode != CrashMode::kDropUnsynced) keep = rng_() % (unsynced + 1);
    if (mode == CrashMode::kGarbageTail && keep > 0) {
      uint64_t at = state.synced_size + rng_() % keep;
      uint8_t garbage = static_cast<uint8_t>(rng_() | 1);
      uint8_t b = 0;
      std::span<uint8_t> one(&b, 1);
      if (absl::StatusOr<size_t> n = (*f)->ReadAt(at, one); n.ok() && *n == 1) {
        b ^= garbage;
        if (absl::Status s = (*f)->WriteAt(at, one); !s.ok()) return s;
      }
    }
    if (absl::Status s = (*f)->Truncate(state.synced_size + keep); !s.ok()) return s;
    state.synced_size += keep;
  }
  return absl::OkStatus();
}

void FaultInjectionFileSystem::SetWriteBudget(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  budget_on_ = true;
  budget_ = bytes;
}
void FaultInjectionFileSystem::ClearWriteBudget() {
  std::lock_guard<std::mutex> l(mu_);
  budget_on_ = false;
}
void FaultInjectionFileSystem::FailReads(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  fail_reads_ = on;
}
void FaultInjectionFileSystem::FailSyncs(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  fail_syncs_ = on;
}
void FaultInjectionFileSystem::SetSyncDelay(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> l(mu_);
  sync_delay_ = d;
}

absl::Status FaultInjectionFileSystem::BeforeWrite(size_t n, size_t* allowed) {
  std::lock_guard<std::mutex> l(mu_);
  *allowed = n;
  if (!budget_on_) return absl::OkStatus();
  if (n <= budget_) {
    budget_ -= n;
    return absl::OkStatus();
  }
  *allowed = static_cast<size_t>(budget_);
  budget_ = 0;
  return absl::ResourceExhaustedError("write: No space left on device (injected)");
}

absl::Status FaultInjectionFileSystem::BeforeRead() {
  std::lock_guard<std::mutex> l(mu_);
  if (fail_reads_) return absl::DataLossError("read: Input/output error (injected)");
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::OnSync(const std::string& path, uint64_t size) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_syncs_)
      return absl::DataLossError("fdatasync " + path + ": Input/output error (injected)");
    files_[path].synced_size = size;
    delay = sync_delay_;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return absl::OkStatus();
}

void FaultInjectionFileSystem::OnTruncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  State& st = files_[path];
  st.synced_size = std::min(st.synced_size, size);
}

}  // namespace fjord::storage
