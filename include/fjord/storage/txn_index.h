#pragma once
// The transaction index of a log segment (`.txnindex`, Kafka's format): one entry per
// transaction whose ABORT marker was written in the segment, so a read_committed fetch can
// tell the consumer which producers' records to drop (KIP-98).
//
//   34-byte entries, big-endian:
//   [version int16 = 0][producer id int64][first offset int64][last offset int64]
//   [last stable offset int64]
//
// `last offset` is the offset of the ABORT marker and grows strictly from entry to entry;
// `last stable offset` is the partition's LSO when the abort was written. Aborts are rare,
// so the file is small and the index keeps only its entry count and last offset in memory:
// every search reads the file. It holds no descriptor between operations (each opens the
// file and closes it), and a search of an index with no entries touches no file.
//
// Owned by its Segment, on the partition's event loop; not thread-safe. After an unclean
// stop, recovery drops the entries past the recovered end of the segment; rebuilding the
// entries of aborts whose index append was lost needs the producer state, which the
// transactions work adds.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

struct AbortedTxn {
  ProducerId producer_id;
  Offset first_offset;        // the transaction's first record in this partition
  Offset last_offset;         // its ABORT marker
  Offset last_stable_offset;  // the LSO when the marker was written
  bool operator==(const AbortedTxn&) const = default;
};

struct TxnSearchResult {
  std::vector<AbortedTxn> aborted;
  // True when this segment's index already covers the whole fetch range, so the caller
  // need not search the following segments.
  bool complete = false;
};

class TxnIndex {
 public:
  static constexpr size_t kEntrySize = 34;
  static constexpr int16_t kVersion = 0;

  // Opens (creating if needed) the index at `path` and checks every entry. A size that is
  // not a whole number of entries, a version other than 0, or a last offset that does not
  // grow fails with kDataLoss naming the path and the entry: the caller rebuilds the index.
  static absl::StatusOr<std::unique_ptr<TxnIndex>> Open(FileSystem& fs, const std::string& path);

  // Appends an entry; its last offset must be above the previous entry's (kInvalidArgument
  // otherwise, and nothing is written). A failed write leaves the file at its old entries.
  absl::Status Append(const AbortedTxn& txn);

  // The aborted transactions that overlap the fetch range [fetch_offset,
  // upper_bound_offset): last_offset >= fetch_offset and first_offset < upper_bound_offset,
  // in file order. The scan stops at the first entry whose last stable offset is at or above
  // upper_bound_offset and reports `complete`: every transaction that started below the
  // bound had ended when that abort was written, so its marker is at or before this entry
  // and later segments hold nothing more for the range.
  absl::StatusOr<TxnSearchResult> CollectAbortedTxns(Offset fetch_offset,
                                                     Offset upper_bound_offset) const;
  absl::StatusOr<std::vector<AbortedTxn>> AllAbortedTxns() const;

  // Drops every entry whose last offset >= offset (log truncation).
  absl::Status TruncateTo(Offset offset);
  // Drops every entry.
  absl::Status Reset();
  absl::Status Sync() { return SyncPath(fs_, path_); }

  size_t entries() const { return entries_; }
  size_t size_bytes() const { return entries_ * kEntrySize; }
  // The last offset of the newest entry, or nullopt when the index is empty.
  std::optional<Offset> last_offset() const { return last_offset_; }
  const std::string& path() const { return path_; }
  // The file was renamed (its segment got a suffix).
  void SetPath(std::string path) { path_ = std::move(path); }

 private:
  TxnIndex(FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  absl::StatusOr<std::unique_ptr<File>> OpenFile() const {
    return fs_.Open(path_, /*create=*/false);
  }

  FileSystem& fs_;
  std::string path_;
  size_t entries_ = 0;
  std::optional<Offset> last_offset_;
};

}  // namespace fjord::storage
