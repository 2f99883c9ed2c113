#pragma once
// Shared helpers of the Log tests: batch builders and a Log opener over a temp dir.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fjord/base/clock.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log.h"

namespace fjord::storage::testing {

// A CreateTime batch of `records` records of `value_size` bytes, timestamps ts, ts+1, ...
inline std::vector<uint8_t> MakeBatch(int records, size_t value_size, int64_t ts,
                                      protocol::Compression codec = protocol::Compression::kNone) {
  protocol::RecordBatchBuilder b;
  b.SetCompression(codec);
  std::vector<uint8_t> value(value_size, 'v');
  for (int i = 0; i < records; ++i) {
    std::string key = "k" + std::to_string(i);
    b.Add(ts + i, protocol::AsBytes(key), std::span<const uint8_t>(value));
  }
  absl::StatusOr<std::vector<uint8_t>> out = std::move(b).Build();
  EXPECT_TRUE(out.ok()) << out.status();
  return *out;
}

inline Log::Params MakeParams(FileSystem& fs, Clock& clock, const std::string& dir,
                              LogConfig config = {}) {
  Log::Params p;
  p.fs = &fs;
  p.clock = &clock;
  p.dir = dir;
  p.topic_partition = {"orders", PartitionId(0)};
  p.config = config;
  return p;
}

// Appends `count` batches of `records` records each as leader; returns the infos.
inline std::vector<LogAppendInfo> AppendBatches(Log& log, int count, int records, size_t value_size,
                                                int64_t ts, LeaderEpoch epoch = LeaderEpoch(0)) {
  std::vector<LogAppendInfo> out;
  for (int i = 0; i < count; ++i) {
    std::vector<uint8_t> batch = MakeBatch(records, value_size, ts + i);
    absl::StatusOr<LogAppendInfo> info = log.AppendAsLeader(batch, epoch);
    EXPECT_TRUE(info.ok()) << info.status();
    if (info.ok()) out.push_back(*info);
  }
  return out;
}

// Reads everything from `from` and returns the (base, last) offsets of each batch,
// checking CRCs on the way.
inline std::vector<std::pair<int64_t, int64_t>> ReadAllBatches(const Log& log,
                                                               Offset from = Offset(0)) {
  std::vector<std::pair<int64_t, int64_t>> out;
  Offset next = from;
  while (next < log.log_end_offset()) {
    absl::StatusOr<LogReadResult> r = log.Read(next, 1 << 20, log.log_end_offset(), true);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->regions.empty()) break;
    absl::StatusOr<std::vector<uint8_t>> bytes = ReadRegions(r->regions);
    EXPECT_TRUE(bytes.ok());
    protocol::RecordBatchIterator it(*bytes);
    while (it.Next()) {
      out.emplace_back(it.batch().header().base_offset.value,
                       it.batch().header().last_offset().value);
      next = it.batch().header().next_offset();
    }
    EXPECT_TRUE(it.status().ok()) << it.status();
    EXPECT_FALSE(it.has_partial_tail());
  }
  return out;
}

}  // namespace fjord::storage::testing
