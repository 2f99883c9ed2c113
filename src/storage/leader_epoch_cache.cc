#include "fjord/storage/leader_epoch_cache.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace fjord::storage {
namespace {

bool UpdateNeeded(const std::vector<EpochEntry>& entries, const EpochEntry& e) {
  if (entries.empty()) return true;
  const EpochEntry& latest = entries.back();
  return e.epoch != latest.epoch || e.start_offset < latest.start_offset;
}

// Assign without the checkpoint: keeps both epochs and start offsets increasing by dropping,
// from the end, every entry the new one contradicts (a newer or equal epoch, or a start at
// or after the new start), then appends. Returns false when nothing changed.
bool AssignInMemory(std::vector<EpochEntry>& entries, const EpochEntry& e) {
  if (!UpdateNeeded(entries, e)) return false;
  while (!entries.empty() &&
         (entries.back().epoch >= e.epoch || entries.back().start_offset >= e.start_offset)) {
    entries.pop_back();
  }
  entries.push_back(e);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LeaderEpochCache>> LeaderEpochCache::Open(FileSystem& fs,
                                                                         std::string path) {
  absl::StatusOr<std::vector<EpochEntry>> loaded = ReadLeaderEpochCheckpoint(fs, path);
  if (!loaded.ok()) return loaded.status();
  std::vector<EpochEntry> entries;
  for (size_t i = 0; i < loaded->size(); ++i) {
    const EpochEntry& e = (*loaded)[i];
    if (e.epoch.value < 0 || e.start_offset.value < 0) {
      // Line numbers as ReadLeaderEpochCheckpoint reports them: two header lines first.
      return absl::DataLossError(path + ":" + std::to_string(i + 3) + ": negative epoch " +
                                 std::to_string(e.epoch.value) + " or start offset " +
                                 std::to_string(e.start_offset.value));
    }
    AssignInMemory(entries, e);
  }
  return std::unique_ptr<LeaderEpochCache>(
      new LeaderEpochCache(fs, std::move(path), std::move(entries)));
}

absl::Status LeaderEpochCache::Commit(std::vector<EpochEntry> next) {
  if (absl::Status s = WriteLeaderEpochCheckpoint(fs_, path_, next); !s.ok()) return s;
  entries_ = std::move(next);
  return absl::OkStatus();
}

absl::Status LeaderEpochCache::Assign(LeaderEpoch epoch, Offset start_offset) {
  if (epoch.value < 0 || start_offset.value < 0) {
    return absl::InvalidArgumentError(path_ + ": invalid leader epoch entry (epoch " +
                                      std::to_string(epoch.value) + ", start offset " +
                                      std::to_string(start_offset.value) + ")");
  }
  EpochEntry e{epoch, start_offset};
  if (!UpdateNeeded(entries_, e)) return absl::OkStatus();
  std::vector<EpochEntry> next = entries_;
  AssignInMemory(next, e);
  return Commit(std::move(next));
}

std::optional<EpochEntry> LeaderEpochCache::Latest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

std::optional<LeaderEpoch> LeaderEpochCache::LatestEpoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

std::pair<LeaderEpoch, Offset> LeaderEpochCache::EndOffsetFor(LeaderEpoch requested,
                                                              Offset log_end_offset) const {
  const std::pair<LeaderEpoch, Offset> undefined{kUndefinedEpoch, kUndefinedOffset};
  // A bootstrapping follower, or one whose log predates leader epochs, asks with no epoch.
  if (requested == kUndefinedEpoch) return undefined;
  // The latest epoch is still being written: it ends at the log end.
  if (!entries_.empty() && entries_.back().epoch == requested) return {requested, log_end_offset};
  auto higher = std::upper_bound(
      entries_.begin(), entries_.end(), requested,
      [](LeaderEpoch epoch, const EpochEntry& entry) { return epoch < entry.epoch; });
  if (higher == entries_.end()) return undefined;
  if (higher == entries_.begin()) {
    // Every known epoch is above the requested one: its history has left the log, so the
    // answer is where the log's known history begins.
    return {requested, higher->start_offset};
  }
  return {std::prev(higher)->epoch, higher->start_offset};
}

std::optional<LeaderEpoch> LeaderEpochCache::EpochForOffset(Offset offset) const {
  auto after =
      std::upper_bound(entries_.begin(), entries_.end(), offset,
                       [](Offset o, const EpochEntry& entry) { return o < entry.start_offset; });
  if (after == entries_.begin()) return std::nullopt;
  return std::prev(after)->epoch;
}

absl::Status LeaderEpochCache::TruncateFromEnd(Offset end_offset) {
  if (end_offset.value < 0 || entries_.empty() || entries_.back().start_offset < end_offset) {
    return absl::OkStatus();
  }
  std::vector<EpochEntry> next = entries_;
  while (!next.empty() && next.back().start_offset >= end_offset) next.pop_back();
  return Commit(std::move(next));
}

absl::Status LeaderEpochCache::TruncateFromStart(Offset start_offset) {
  // Entries starting at or before the new log start: all but the last leave the log.
  auto after =
      std::upper_bound(entries_.begin(), entries_.end(), start_offset,
                       [](Offset o, const EpochEntry& entry) { return o < entry.start_offset; });
  if (after == entries_.begin()) return absl::OkStatus();
  std::vector<EpochEntry> next;
  next.reserve(static_cast<size_t>(entries_.end() - after) + 1);
  next.push_back({std::prev(after)->epoch, start_offset});
  next.insert(next.end(), after, entries_.end());
  if (next == entries_) return absl::OkStatus();
  return Commit(std::move(next));
}

absl::Status LeaderEpochCache::Clear() { return Commit({}); }

absl::Status LeaderEpochCache::Flush() { return WriteLeaderEpochCheckpoint(fs_, path_, entries_); }

}  // namespace fjord::storage
