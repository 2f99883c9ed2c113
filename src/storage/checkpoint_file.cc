#include "fjord/storage/checkpoint_file.h"

#include <charconv>
#include <string_view>

namespace fjord::storage {
namespace {

constexpr int kVersion = 0;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

absl::Status WriteLines(FileSystem& fs, const std::string& path,
                        const std::vector<std::string>& entries) {
  std::string text = std::to_string(kVersion) + "\n" + std::to_string(entries.size()) + "\n";
  for (const auto& e : entries) text += e + "\n";
  return fs.WriteFileAtomically(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

template <typename T>
bool ParseInt(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Reads the header and returns the entry lines; fails with kDataLoss on any mismatch.
absl::StatusOr<std::vector<std::string>> ReadLines(FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> data = fs.ReadWholeFile(path);
  if (!data.ok()) return data.status();
  std::string_view text(reinterpret_cast<const char*>(data->data()), data->size());
  std::vector<std::string_view> lines = Split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  auto bad = [&](size_t line, const std::string& why) {
    return absl::DataLossError(path + ":" + std::to_string(line) + ": " + why);
  };
  int version = -1;
  if (lines.empty() || !ParseInt(lines[0], &version)) return bad(1, "missing version");
  if (version != kVersion) return bad(1, "unknown version " + std::string(lines[0]));
  size_t count = 0;
  if (lines.size() < 2 || !ParseInt(lines[1], &count)) return bad(2, "missing entry count");
  if (lines.size() - 2 != count) {
    return bad(2, "count " + std::to_string(count) + " but " + std::to_string(lines.size() - 2) +
                      " entries");
  }
  return std::vector<std::string>(lines.begin() + 2, lines.end());
}

}  // namespace

absl::Status WriteOffsetCheckpoint(FileSystem& fs, const std::string& path,
                                   const OffsetCheckpoint& offsets) {
  std::vector<std::string> entries;
  for (const auto& [tp, offset] : offsets) {
    entries.push_back(tp.topic + " " + std::to_string(tp.partition.value) + " " +
                      std::to_string(offset.value));
  }
  return WriteLines(fs, path, entries);
}

absl::StatusOr<OffsetCheckpoint> ReadOffsetCheckpoint(FileSystem& fs, const std::string& path) {
  if (!fs.Exists(path)) return OffsetCheckpoint{};
  absl::StatusOr<std::vector<std::string>> lines = ReadLines(fs, path);
  if (!lines.ok()) return lines.status();
  OffsetCheckpoint out;
  for (size_t i = 0; i < lines->size(); ++i) {
    std::vector<std::string_view> parts = Split((*lines)[i], ' ');
    int32_t partition = 0;
    int64_t offset = 0;
    if (parts.size() != 3 || parts[0].empty() || !ParseInt(parts[1], &partition) ||
        !ParseInt(parts[2], &offset) || partition < 0) {
      return absl::DataLossError(path + ":" + std::to_string(i + 3) + ": malformed entry '" +
                                 (*lines)[i] + "'");
    }
    out[TopicPartition{std::string(parts[0]), PartitionId(partition)}] = Offset(offset);
  }
  return out;
}

absl::Status WriteLeaderEpochCheckpoint(FileSystem& fs, const std::string& path,
                                        const std::vector<EpochEntry>& entries) {
  std::vector<std::string> lines;
  for (const auto& e : entries) {
    lines.push_back(std::to_string(e.epoch.value) + " " + std::to_string(e.start_offset.value));
  }
  return WriteLines(fs, path, lines);
}

absl::StatusOr<std::vector<EpochEntry>> ReadLeaderEpochCheckpoint(FileSystem& fs,
                                                                  const std::string& path) {
  if (!fs.Exists(path)) return std::vector<EpochEntry>{};
  absl::StatusOr<std::vector<std::string>> lines = ReadLines(fs, path);
  if (!lines.ok()) return lines.status();
  std::vector<EpochEntry> out;
  for (size_t i = 0; i < lines->size(); ++i) {
    std::vector<std::string_view> parts = Split((*lines)[i], ' ');
    int32_t epoch = 0;
    int64_t offset = 0;
    bool ok = parts.size() == 2 && ParseInt(parts[0], &epoch) && ParseInt(parts[1], &offset);
    // Epochs and their start offsets only grow.
    if (ok && !out.empty()) {
      ok = epoch > out.back().epoch.value && offset >= out.back().start_offset.value;
    }
    if (!ok) {
      return absl::DataLossError(path + ":" + std::to_string(i + 3) + ": malformed entry '" +
                                 (*lines)[i] + "'");
    }
    out.push_back({LeaderEpoch(epoch), Offset(offset)});
  }
  return out;
}

}  // namespace fjord::storage
