#include "fjord/storage/sparse_index.h"

#include <algorithm>

#include "fjord/base/endian.h"

namespace fjord::storage {

void OffsetIndexEntry::Encode(uint8_t* out) const {
  be::Store32(out, static_cast<uint32_t>(relative_offset));
  be::Store32(out + 4, static_cast<uint32_t>(position));
}

OffsetIndexEntry OffsetIndexEntry::Decode(const uint8_t* in) {
  return {static_cast<int32_t>(be::Load32(in)), static_cast<int32_t>(be::Load32(in + 4))};
}

void TimeIndexEntry::Encode(uint8_t* out) const {
  be::Store64(out, static_cast<uint64_t>(timestamp));
  be::Store32(out + 8, static_cast<uint32_t>(relative_offset));
}

TimeIndexEntry TimeIndexEntry::Decode(const uint8_t* in) {
  return {static_cast<int64_t>(be::Load64(in)), static_cast<int32_t>(be::Load32(in + 8))};
}

template <typename Entry>
absl::StatusOr<const File*> SparseIndex<Entry>::ColdReader::Get() {
  if (!file_) {
    absl::StatusOr<std::unique_ptr<File>> f = index_.fs_.Open(index_.path_, /*create=*/false);
    if (!f.ok()) return f.status();
    file_ = std::move(*f);
  }
  return file_.get();
}

template <typename Entry>
absl::StatusOr<std::unique_ptr<SparseIndex<Entry>>> SparseIndex<Entry>::Open(
    FileSystem& fs, const std::string& path, size_t max_bytes) {
  // The descriptor lives for this function only.
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, /*create=*/true);
  if (!file.ok()) return file.status();
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size % Entry::kSize != 0) {
    return absl::DataLossError(path + ": size " + std::to_string(*size) +
                               " is not a multiple of the entry size " +
                               std::to_string(Entry::kSize));
  }
  std::unique_ptr<SparseIndex> index(new SparseIndex(fs, path, max_bytes));
  index->entries_ = index->written_ = *size / Entry::kSize;
  if (absl::Status s = index->LoadWarm(**file); !s.ok()) return s;
  for (size_t i = 1; i < index->warm_.size(); ++i) {
    if (index->warm_[i].key() < index->warm_[i - 1].key()) {
      return absl::DataLossError(path + ": entries out of order");
    }
  }
  return index;
}

template <typename Entry>
absl::Status SparseIndex<Entry>::LoadWarm(const File& file) {
  warm_.clear();
  size_t n = std::min(entries_, kWarmEntries);
  std::vector<uint8_t> buf(n * Entry::kSize);
  absl::StatusOr<size_t> got = file.ReadAt((entries_ - n) * Entry::kSize, buf);
  if (!got.ok()) return got.status();
  if (*got != buf.size()) return absl::DataLossError(path_ + ": short read");
  for (size_t i = 0; i < n; ++i) warm_.push_back(Entry::Decode(buf.data() + i * Entry::kSize));
  return absl::OkStatus();
}

template <typename Entry>
std::optional<Entry> SparseIndex<Entry>::last() const {
  if (warm_.empty()) return std::nullopt;
  return warm_.back();
}

template <typename Entry>
absl::Status SparseIndex<Entry>::Append(const Entry& e) {
  if (!warm_.empty()) {
    if (e.key() < warm_.back().key()) {
      return absl::InvalidArgumentError(path_ + ": index key goes backwards");
    }
    if (e.key() == warm_.back().key()) return absl::OkStatus();
  }
  if (full()) return absl::ResourceExhaustedError(path_ + ": index is full");
  ++entries_;
  warm_.push_back(e);
  if (warm_.size() > 2 * kWarmEntries) warm_.erase(warm_.begin(), warm_.end() - kWarmEntries);
  if (entries_ - written_ >= kMaxPending) return WritePending();
  return absl::OkStatus();
}

template <typename Entry>
absl::Status SparseIndex<Entry>::WritePending() {
  const size_t n = entries_ - written_;
  if (n == 0) return absl::OkStatus();
  uint8_t buf[kMaxPending * Entry::kSize];
  for (size_t i = 0; i < n; ++i) warm_[warm_.size() - n + i].Encode(buf + i * Entry::kSize);
  absl::StatusOr<std::unique_ptr<File>> file = fs_.Open(path_, /*create=*/false);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->WriteAt(written_ * Entry::kSize, {buf, n * Entry::kSize});
      !s.ok()) {
    // A partial entry would poison every later lookup: cut it off; the entries stay
    // pending for the next attempt.
    (void)(*file)->Truncate(written_ * Entry::kSize);
    return s;
  }
  written_ = entries_;
  return absl::OkStatus();
}

template <typename Entry>
absl::Status SparseIndex<Entry>::Sync() {
  if (absl::Status s = WritePending(); !s.ok()) return s;
  return SyncPath(fs_, path_);
}

template <typename Entry>
SparseIndex<Entry>::~SparseIndex() {
  // The segment may be gone (deleted with its topic): then there is nothing to write to.
  (void)WritePending();
}

template <typename Entry>
absl::StatusOr<Entry> SparseIndex<Entry>::ReadEntry(ColdReader& reader, size_t i) const {
  size_t cold = entries_ - warm_.size();
  if (i >= cold) return warm_[i - cold];
  absl::StatusOr<const File*> file = reader.Get();
  if (!file.ok()) return file.status();
  uint8_t buf[Entry::kSize];
  absl::StatusOr<size_t> n = (*file)->ReadAt(i * Entry::kSize, buf);
  if (!n.ok()) return n.status();
  if (*n != Entry::kSize) return absl::DataLossError(path_ + ": short read");
  return Entry::Decode(buf);
}

template <typename Entry>
absl::StatusOr<size_t> SparseIndex<Entry>::UpperBound(ColdReader& reader,
                                                      typename Entry::Key target) const {
  size_t cold = entries_ - warm_.size();
  if (!warm_.empty() && warm_.front().key() <= target) {
    auto it = std::upper_bound(warm_.begin(), warm_.end(), target,
                               [](auto t, const Entry& e) { return t < e.key(); });
    return cold + static_cast<size_t>(it - warm_.begin());
  }
  size_t lo = 0, hi = cold;  // first index in [lo, hi) with key > target
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<Entry> e = ReadEntry(reader, mid);
    if (!e.ok()) return e.status();
    if (e->key() <= target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

template <typename Entry>
absl::StatusOr<std::optional<Entry>> SparseIndex<Entry>::Lookup(typename Entry::Key target) const {
  ColdReader cold(*this);
  absl::StatusOr<size_t> ub = UpperBound(cold, target);
  if (!ub.ok()) return ub.status();
  if (*ub == 0) return std::optional<Entry>();
  absl::StatusOr<Entry> e = ReadEntry(cold, *ub - 1);
  if (!e.ok()) return e.status();
  return std::optional<Entry>(*e);
}

template <typename Entry>
absl::StatusOr<std::optional<Entry>> SparseIndex<Entry>::LookupCeiling(
    typename Entry::Key target) const {
  ColdReader cold(*this);
  absl::StatusOr<size_t> lb =
      PartitionPointIn(cold, [target](const Entry& e) { return e.key() >= target; });
  if (!lb.ok()) return lb.status();
  if (*lb >= entries_) return std::optional<Entry>();
  absl::StatusOr<Entry> e = ReadEntry(cold, *lb);
  if (!e.ok()) return e.status();
  return std::optional<Entry>(*e);
}

template <typename Entry>
absl::Status SparseIndex<Entry>::TruncateFrom(typename Entry::Key key) {
  absl::StatusOr<size_t> lb = PartitionPoint([key](const Entry& e) { return e.key() >= key; });
  if (!lb.ok()) return lb.status();
  return TruncateToEntries(*lb);
}

template <typename Entry>
absl::Status SparseIndex<Entry>::TruncateFromRelativeOffset(int32_t relative_offset) {
  absl::StatusOr<size_t> at = PartitionPoint(
      [relative_offset](const Entry& e) { return e.relative_offset >= relative_offset; });
  if (!at.ok()) return at.status();
  return TruncateToEntries(*at);
}

template <typename Entry>
absl::Status SparseIndex<Entry>::TruncateToEntries(size_t n) {
  if (n >= entries_) return absl::OkStatus();
  if (n > written_) {
    // Only pending entries go: no file I/O (the dropped ones are the newest warm ones).
    warm_.resize(warm_.size() - (entries_ - n));
    entries_ = n;
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<File>> file = fs_.Open(path_, /*create=*/false);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Truncate(n * Entry::kSize); !s.ok()) return s;
  entries_ = written_ = n;
  return LoadWarm(**file);
}

template <typename Entry>
absl::Status SparseIndex<Entry>::Reset() {
  absl::StatusOr<std::unique_ptr<File>> file = fs_.Open(path_, /*create=*/false);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Truncate(0); !s.ok()) return s;
  entries_ = written_ = 0;
  warm_.clear();
  return absl::OkStatus();
}

template class SparseIndex<OffsetIndexEntry>;
template class SparseIndex<TimeIndexEntry>;

}  // namespace fjord::storage
