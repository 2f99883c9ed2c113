#include "fjord/storage/txn_index.h"

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "fjord/base/endian.h"

namespace fjord::storage {
namespace {

// Entries read per ReadAt while scanning: a small stack buffer, whatever the file's size.
constexpr size_t kScanChunkEntries = 64;

void Encode(const AbortedTxn& txn, uint8_t* out) {
  be::Store16(out, static_cast<uint16_t>(TxnIndex::kVersion));
  be::Store64(out + 2, static_cast<uint64_t>(txn.producer_id.value));
  be::Store64(out + 10, static_cast<uint64_t>(txn.first_offset.value));
  be::Store64(out + 18, static_cast<uint64_t>(txn.last_offset.value));
  be::Store64(out + 26, static_cast<uint64_t>(txn.last_stable_offset.value));
}

AbortedTxn Decode(const uint8_t* in) {
  return AbortedTxn{ProducerId(static_cast<int64_t>(be::Load64(in + 2))),
                    Offset(static_cast<int64_t>(be::Load64(in + 10))),
                    Offset(static_cast<int64_t>(be::Load64(in + 18))),
                    Offset(static_cast<int64_t>(be::Load64(in + 26)))};
}

absl::Status EntryError(const File& file, size_t i, const std::string& why) {
  return absl::DataLossError(file.path() + ": entry " + std::to_string(i) + " (byte " +
                             std::to_string(i * TxnIndex::kEntrySize) + "): " + why);
}

// Reads the first `entries` entries of `file` in order, calling visit(i, txn) for each
// until it returns false. An entry of an unknown version is kDataLoss.
template <typename Visit>
absl::Status ScanEntries(const File& file, size_t entries, Visit visit) {
  std::array<uint8_t, kScanChunkEntries * TxnIndex::kEntrySize> buf;
  for (size_t first = 0; first < entries; first += kScanChunkEntries) {
    size_t n = std::min(kScanChunkEntries, entries - first);
    std::span<uint8_t> chunk(buf.data(), n * TxnIndex::kEntrySize);
    absl::StatusOr<size_t> got = file.ReadAt(first * TxnIndex::kEntrySize, chunk);
    if (!got.ok()) return got.status();
    if (*got != chunk.size())
      return EntryError(file, first + *got / TxnIndex::kEntrySize, "short read");
    for (size_t j = 0; j < n; ++j) {
      const uint8_t* p = chunk.data() + j * TxnIndex::kEntrySize;
      auto version = static_cast<int16_t>(be::Load16(p));
      if (version != TxnIndex::kVersion) {
        return EntryError(file, first + j, "unknown version " + std::to_string(version));
      }
      if (!visit(first + j, Decode(p))) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TxnIndex>> TxnIndex::Open(FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, /*create=*/true);
  if (!file.ok()) return file.status();
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size % kEntrySize != 0) {
    return absl::DataLossError(
        path + ": size " + std::to_string(*size) + " is not a multiple of the entry size " +
        std::to_string(kEntrySize) + " (torn entry " + std::to_string(*size / kEntrySize) + ")");
  }
  std::unique_ptr<TxnIndex> index(new TxnIndex(fs, path));
  size_t entries = *size / kEntrySize;
  absl::Status order;
  std::optional<Offset> last;
  absl::Status s = ScanEntries(**file, entries, [&](size_t i, const AbortedTxn& txn) {
    if (last.has_value() && txn.last_offset <= *last) {
      order = EntryError(**file, i,
                         "last offset " + std::to_string(txn.last_offset.value) +
                             " is not above the previous " + std::to_string(last->value));
      return false;
    }
    last = txn.last_offset;
    return true;
  });
  if (!s.ok()) return s;
  if (!order.ok()) return order;
  index->entries_ = entries;
  index->last_offset_ = last;
  return index;
}

absl::Status TxnIndex::Append(const AbortedTxn& txn) {
  if (last_offset_.has_value() && txn.last_offset <= *last_offset_) {
    return absl::InvalidArgumentError(
        path() + ": aborted transaction's last offset " + std::to_string(txn.last_offset.value) +
        " is not above the index's last offset " + std::to_string(last_offset_->value));
  }
  uint8_t buf[kEntrySize];
  Encode(txn, buf);
  absl::StatusOr<std::unique_ptr<File>> file = OpenFile();
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->WriteAt(size_bytes(), buf); !s.ok()) {
    // A torn entry would make the whole file unreadable: cut it off.
    (void)(*file)->Truncate(size_bytes());
    return s;
  }
  ++entries_;
  last_offset_ = txn.last_offset;
  return absl::OkStatus();
}

absl::StatusOr<TxnSearchResult> TxnIndex::CollectAbortedTxns(Offset fetch_offset,
                                                             Offset upper_bound_offset) const {
  TxnSearchResult result;
  if (entries_ == 0) return result;
  absl::StatusOr<std::unique_ptr<File>> file = OpenFile();
  if (!file.ok()) return file.status();
  absl::Status s = ScanEntries(**file, entries_, [&](size_t, const AbortedTxn& txn) {
    if (txn.last_offset >= fetch_offset && txn.first_offset < upper_bound_offset) {
      result.aborted.push_back(txn);
    }
    if (txn.last_stable_offset >= upper_bound_offset) {
      result.complete = true;
      return false;
    }
    return true;
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<AbortedTxn>> TxnIndex::AllAbortedTxns() const {
  std::vector<AbortedTxn> out;
  out.reserve(entries_);
  if (entries_ == 0) return out;
  absl::StatusOr<std::unique_ptr<File>> file = OpenFile();
  if (!file.ok()) return file.status();
  absl::Status s = ScanEntries(**file, entries_, [&](size_t, const AbortedTxn& txn) {
    out.push_back(txn);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status TxnIndex::TruncateTo(Offset offset) {
  if (!last_offset_.has_value() || *last_offset_ < offset) return absl::OkStatus();
  // Last offsets grow, so the entries to drop are a suffix: find where it starts.
  size_t keep = entries_;
  std::optional<Offset> new_last;
  absl::StatusOr<std::unique_ptr<File>> file = OpenFile();
  if (!file.ok()) return file.status();
  absl::Status s = ScanEntries(**file, entries_, [&](size_t i, const AbortedTxn& txn) {
    if (txn.last_offset >= offset) {
      keep = i;
      return false;
    }
    new_last = txn.last_offset;
    return true;
  });
  if (!s.ok()) return s;
  if (keep == entries_) return absl::OkStatus();
  if (absl::Status t = (*file)->Truncate(keep * kEntrySize); !t.ok()) return t;
  entries_ = keep;
  last_offset_ = new_last;
  return absl::OkStatus();
}

absl::Status TxnIndex::Reset() {
  if (entries_ == 0) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<File>> file = OpenFile();
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Truncate(0); !s.ok()) return s;
  entries_ = 0;
  last_offset_.reset();
  return absl::OkStatus();
}

}  // namespace fjord::storage
