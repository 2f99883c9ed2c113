#pragma once
// Checkpoint files, in Kafka's text formats, each written atomically (temp file, fsync,
// rename, fsync the directory) so a crash leaves the old or the new content, never a mix.
//
// Offset checkpoints (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`
// in every data dir): one line per partition.
//     0                      <- format version
//     2                      <- number of entries
//     orders 0 1200          <- topic, partition, offset
//     orders 1 1180
//
// Leader-epoch checkpoint (`leader-epoch-checkpoint` in each partition directory):
//     0
//     2
//     0 0                    <- leader epoch, start offset of that epoch
//     3 4711
//
// Reading is strict: a wrong version, a count that disagrees with the lines, or a line
// that does not parse fails with kDataLoss naming the file and the line.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

struct TopicPartition {
  std::string topic;
  PartitionId partition;
  auto operator<=>(const TopicPartition&) const = default;
  // The partition's directory name: <topic>-<partition>.
  std::string DirName() const { return topic + "-" + std::to_string(partition.value); }
};

using OffsetCheckpoint = std::map<TopicPartition, Offset>;

absl::Status WriteOffsetCheckpoint(FileSystem& fs, const std::string& path,
                                   const OffsetCheckpoint& offsets);
// A missing file reads as empty (a new data dir).
absl::StatusOr<OffsetCheckpoint> ReadOffsetCheckpoint(FileSystem& fs, const std::string& path);

struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;
  bool operator==(const EpochEntry&) const = default;
};

absl::Status WriteLeaderEpochCheckpoint(FileSystem& fs, const std::string& path,
                                        const std::vector<EpochEntry>& entries);
absl::StatusOr<std::vector<EpochEntry>> ReadLeaderEpochCheckpoint(FileSystem& fs,
                                                                  const std::string& path);

}  // namespace fjord::storage
