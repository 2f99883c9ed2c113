// Log appends, validation, rolls and reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "fjord/base/endian.h"
#include "fjord/storage/log.h"
#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::AppendBatches;
using testing::MakeBatch;
using testing::MakeParams;
using testing::ReadAllBatches;

class LogAppendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog(LogConfig config = {}) {
    auto log = Log::Open(MakeParams(fs_, clock_, dir_ / "orders-0", config));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::vector<std::string> Files() {
    auto names = fs_.List(dir_ / "orders-0");
    std::vector<std::string> out = names.ok() ? *names : std::vector<std::string>{};
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
};

TEST_F(LogAppendTest, EmptyLogHasOneEmptySegmentAtOffsetZero) {
  auto log = OpenLog();
  EXPECT_EQ(log->log_end_offset(), Offset(0));
  EXPECT_EQ(log->log_start_offset(), Offset(0));
  EXPECT_EQ(log->segment_count(), 1u);
  auto r = log->Read(Offset(0), 1000, Offset(100), true);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->regions.empty());
  EXPECT_EQ(Files(), (std::vector<std::string>{
                         "00000000000000000000.index", "00000000000000000000.log",
                         "00000000000000000000.timeindex", "00000000000000000000.txnindex"}));
}

TEST_F(LogAppendTest, AppendAssignsContiguousOffsetsAndPatchesTheBatch) {
  auto log = OpenLog();
  std::vector<uint8_t> a = MakeBatch(3, 10, clock_.NowMs());
  auto info = log->AppendAsLeader(a, LeaderEpoch(5));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->first_offset, Offset(0));
  EXPECT_EQ(info->last_offset, Offset(2));
  EXPECT_EQ(info->record_count, 3);
  EXPECT_EQ(info->log_append_time, -1);
  std::vector<uint8_t> b = MakeBatch(2, 10, clock_.NowMs());
  info = log->AppendAsLeader(b, LeaderEpoch(5));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->first_offset, Offset(3));
  EXPECT_EQ(info->last_offset, Offset(4));
  EXPECT_EQ(log->log_end_offset(), Offset(5));
  // The caller's buffer was patched in place: base offset and leader epoch.
  auto h = protocol::RecordBatchHeader::Decode(b.data());
  EXPECT_EQ(h.base_offset, Offset(3));
  EXPECT_EQ(h.partition_leader_epoch, LeaderEpoch(5));
  EXPECT_EQ(ReadAllBatches(*log), (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {3, 4}}));
  EXPECT_EQ(log->LatestEpoch(), LeaderEpoch(5));
}

TEST_F(LogAppendTest, LogAppendTimeRewritesMaxTimestampWithAValidCrc) {
  LogConfig config;
  config.message_timestamp_type = protocol::TimestampType::kLogAppendTime;
  auto log = OpenLog(config);
  std::vector<uint8_t> batch = MakeBatch(2, 10, 1000);
  auto info = log->AppendAsLeader(batch, LeaderEpoch(0));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->log_append_time, clock_.NowMs());
  auto r = log->Read(Offset(0), 1 << 20, Offset(10), true);
  auto bytes = ReadRegions(r->regions);
  auto view = protocol::ParseRecordBatch(*bytes);  // verifies the CRC
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->header().max_timestamp, clock_.NowMs());
  EXPECT_EQ(view->header().timestamp_type(), protocol::TimestampType::kLogAppendTime);
}

TEST_F(LogAppendTest, CreateTimeOutsideTheBoundsIsInvalidTimestamp) {
  LogConfig config;
  config.message_timestamp_before_max_ms = 1000;
  config.message_timestamp_after_max_ms = 1000;
  auto log = OpenLog(config);
  std::vector<uint8_t> old = MakeBatch(1, 10, clock_.NowMs() - 5000);
  auto info = log->AppendAsLeader(old, LeaderEpoch(0));
  EXPECT_EQ(AppendErrorOf(info.status()), AppendError::kInvalidTimestamp);
  std::vector<uint8_t> future = MakeBatch(1, 10, clock_.NowMs() + 5000);
  info = log->AppendAsLeader(future, LeaderEpoch(0));
  EXPECT_EQ(AppendErrorOf(info.status()), AppendError::kInvalidTimestamp);
  std::vector<uint8_t> now = MakeBatch(1, 10, clock_.NowMs());
  EXPECT_TRUE(log->AppendAsLeader(now, LeaderEpoch(0)).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(1));
}

TEST_F(LogAppendTest, RejectsWithKafkasErrorsAndAppendsNothing) {
  LogConfig config;
  config.max_message_bytes = 200;
  auto log = OpenLog(config);
  std::vector<uint8_t> big = MakeBatch(1, 500, clock_.NowMs());
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(big, LeaderEpoch(0)).status()),
            AppendError::kMessageTooLarge);

  std::vector<uint8_t> corrupt = MakeBatch(1, 10, clock_.NowMs());
  corrupt.back() ^= 0xff;
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(corrupt, LeaderEpoch(0)).status()),
            AppendError::kCorruptMessage);

  std::vector<uint8_t> two = MakeBatch(1, 10, clock_.NowMs());
  std::vector<uint8_t> second = MakeBatch(1, 10, clock_.NowMs());
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(two, LeaderEpoch(0)).status()),
            AppendError::kInvalidRecord);

  std::vector<uint8_t> torn = MakeBatch(1, 10, clock_.NowMs());
  torn.resize(torn.size() - 3);
  // A batch that does not end within a client's records is no batch at all (Kafka).
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(torn, LeaderEpoch(0)).status()),
            AppendError::kInvalidRecord);

  std::vector<uint8_t> empty;
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(empty, LeaderEpoch(0)).status()),
            AppendError::kInvalidRecord);

  auto control =
      protocol::BuildControlBatch(Offset(0), ProducerId(1), ProducerEpoch(0),
                                  {protocol::ControlRecordType::kCommit, 0}, clock_.NowMs());
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(control, LeaderEpoch(0)).status()),
            AppendError::kInvalidRecord);
  EXPECT_TRUE(log->AppendAsLeader(control, LeaderEpoch(0), AppendOrigin::kCoordinator).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(1));
}

TEST_F(LogAppendTest, HeavyBatchesAreCompressedOrLarge) {
  EXPECT_FALSE(ValidationIsHeavy(MakeBatch(10, 100, clock_.NowMs())));
  EXPECT_TRUE(ValidationIsHeavy(MakeBatch(10, 100, clock_.NowMs(), protocol::Compression::kLz4)));
  EXPECT_TRUE(ValidationIsHeavy(MakeBatch(100, 1000, clock_.NowMs())));  // > 64 KiB
  std::vector<uint8_t> garbage(100, 0xff);
  EXPECT_FALSE(ValidationIsHeavy(garbage));  // refused at once, on the loop
}

// The record checks run beforehand (as on a worker) give the same answers as inline, and
// the append trusts their timestamps instead of reading the records again.
TEST_F(LogAppendTest, PrevalidatedRecordsAreAppendedWithTheirTimestamps) {
  LogConfig config;
  config.message_timestamp_before_max_ms = 1000;
  config.message_timestamp_after_max_ms = 1000;
  auto log = OpenLog(config);
  std::vector<uint8_t> old = MakeBatch(3, 10, clock_.NowMs() - 5000, protocol::Compression::kZstd);
  auto pre = PrevalidateRecords(old, config, clock_.NowMs());
  EXPECT_EQ(AppendErrorOf(pre.status()), AppendError::kInvalidTimestamp);

  std::vector<uint8_t> fine = MakeBatch(3, 10, clock_.NowMs(), protocol::Compression::kZstd);
  pre = PrevalidateRecords(fine, config, clock_.NowMs());
  ASSERT_TRUE(pre.ok()) << pre.status();
  ASSERT_EQ(pre->size(), 1u);
  EXPECT_EQ((*pre)[0], clock_.NowMs() + 2);  // the largest record timestamp
  Log::LeaderAppendOptions options;
  options.prevalidated_max_timestamps = &*pre;
  auto info = log->AppendAsLeader(fine, LeaderEpoch(0), options);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->max_timestamp, clock_.NowMs() + 2);
  EXPECT_EQ(log->log_end_offset(), Offset(3));

  // A result that does not match the records (more batches than validated) is refused.
  std::vector<int64_t> none;
  options.prevalidated_max_timestamps = &none;
  std::vector<uint8_t> again = MakeBatch(1, 10, clock_.NowMs());
  info = log->AppendAsLeader(again, LeaderEpoch(0), options);
  EXPECT_EQ(AppendErrorOf(info.status()), AppendError::kCorruptMessage);
  EXPECT_EQ(log->log_end_offset(), Offset(3));
}

// flush.messages with a deferred flush: the append leaves the fsync to its caller and the
// recovery point moves only when the caller flushes.
TEST_F(LogAppendTest, AFlushOwedByTheAppendCanBeLeftToTheCaller) {
  LogConfig config;
  config.flush_messages = 1;
  auto log = OpenLog(config);
  std::optional<Offset> due;
  Log::LeaderAppendOptions options;
  options.deferred_flush = &due;
  std::vector<uint8_t> batch = MakeBatch(2, 10, clock_.NowMs());
  ASSERT_TRUE(log->AppendAsLeader(batch, LeaderEpoch(0), options).ok());
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, Offset(2));
  EXPECT_EQ(log->recovery_point(), Offset(0));
  ASSERT_TRUE(log->Flush(*due).ok());
  EXPECT_EQ(log->recovery_point(), Offset(2));
  // Without the option the append fsyncs itself.
  std::vector<uint8_t> next = MakeBatch(1, 10, clock_.NowMs());
  ASSERT_TRUE(log->AppendAsLeader(next, LeaderEpoch(0)).ok());
  EXPECT_EQ(log->recovery_point(), Offset(3));
}

TEST_F(LogAppendTest, MalformedRecordsInsideAValidCrcAreInvalidRecord) {
  auto log = OpenLog();
  std::vector<uint8_t> batch = MakeBatch(2, 10, clock_.NowMs());
  // Claim one more record than the batch holds, keeping header and CRC consistent.
  be::Store32(batch.data() + protocol::batch_offsets::kRecordsCount, 3);
  be::Store32(batch.data() + protocol::batch_offsets::kLastOffsetDelta, 2);
  ASSERT_TRUE(protocol::UpdateCrc(batch).ok());
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(batch, LeaderEpoch(0)).status()),
            AppendError::kInvalidRecord);
  EXPECT_EQ(log->log_end_offset(), Offset(0));
}

TEST_F(LogAppendTest, RollsOnSegmentBytesAndNamesSegmentsByBaseOffset) {
  LogConfig config;
  config.segment_bytes = 1000;
  auto log = OpenLog(config);
  auto infos = AppendBatches(*log, 10, 2, 200, clock_.NowMs());  // ~470 bytes each
  ASSERT_EQ(infos.size(), 10u);
  EXPECT_EQ(log->segment_count(), 5u);  // two batches a segment
  std::vector<std::string> files = Files();
  EXPECT_EQ(std::count(files.begin(), files.end(), "00000000000000000016.log"), 1);
  EXPECT_EQ(std::count(files.begin(), files.end(), "00000000000000000016.index"), 1);
  EXPECT_EQ(ReadAllBatches(*log).size(), 10u);
  // An append larger than a segment is refused outright.
  config.segment_bytes = 100;
  log->UpdateConfig(config);
  std::vector<uint8_t> batch = MakeBatch(2, 200, clock_.NowMs());
  EXPECT_EQ(AppendErrorOf(log->AppendAsLeader(batch, LeaderEpoch(0)).status()),
            AppendError::kRecordListTooLarge);
}

TEST_F(LogAppendTest, RollsOnSegmentMsCountedFromTheFirstBatchTimestamp) {
  LogConfig config;
  config.segment_ms = 60'000;
  auto log = OpenLog(config);
  AppendBatches(*log, 1, 1, 10, clock_.NowMs());
  clock_.AdvanceMs(30'000);
  AppendBatches(*log, 1, 1, 10, clock_.NowMs());
  EXPECT_EQ(log->segment_count(), 1u);
  clock_.AdvanceMs(31'000);
  AppendBatches(*log, 1, 1, 10, clock_.NowMs());
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST_F(LogAppendTest, RollsWhenAnIndexIsFull) {
  LogConfig config;
  config.segment_index_bytes = 3 * 8;  // three offset-index entries
  config.index_interval_bytes = 1;     // an entry per batch (after the first)
  auto log = OpenLog(config);
  AppendBatches(*log, 12, 1, 10, clock_.NowMs());
  EXPECT_GE(log->segment_count(), 3u);
  EXPECT_EQ(ReadAllBatches(*log).size(), 12u);
  // Every offset is still found through the indexes after the rolls.
  for (int64_t o = 0; o < 12; ++o) {
    auto r = log->Read(Offset(o), 1, Offset(12), true);
    ASSERT_TRUE(r.ok());
    auto bytes = ReadRegions(r->regions);
    EXPECT_EQ(protocol::RecordBatchHeader::Decode(bytes->data()).base_offset, Offset(o));
  }
}

TEST_F(LogAppendTest, FollowerAppendRollsWhenOffsetsOverflowTheRelativeIndex) {
  auto log = OpenLog();
  std::vector<uint8_t> a = MakeBatch(1, 10, clock_.NowMs());
  ASSERT_TRUE(protocol::SetBaseOffset(a, Offset(0)).ok());
  ASSERT_TRUE(log->AppendAsFollower(a).ok());
  const int64_t far = int64_t{1} << 32;
  std::vector<uint8_t> b = MakeBatch(1, 10, clock_.NowMs());
  ASSERT_TRUE(protocol::SetBaseOffset(b, Offset(far)).ok());
  auto info = log->AppendAsFollower(b);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(log->log_end_offset(), Offset(far + 1));
  EXPECT_EQ(ReadAllBatches(*log), (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {far, far}}));
  // Followers keep offsets; one below the log end is refused.
  std::vector<uint8_t> c = MakeBatch(1, 10, clock_.NowMs());
  ASSERT_TRUE(protocol::SetBaseOffset(c, Offset(5)).ok());
  EXPECT_EQ(AppendErrorOf(log->AppendAsFollower(c).status()), AppendError::kOffsetOutOfOrder);
}

TEST_F(LogAppendTest, FollowerAppendFeedsTheLeaderEpochCache) {
  auto log = OpenLog();
  for (int epoch : {1, 1, 3}) {
    std::vector<uint8_t> b = MakeBatch(2, 10, clock_.NowMs());
    ASSERT_TRUE(protocol::SetBaseOffset(b, log->log_end_offset()).ok());
    ASSERT_TRUE(protocol::SetPartitionLeaderEpoch(b, LeaderEpoch(epoch)).ok());
    ASSERT_TRUE(log->AppendAsFollower(b).ok());
  }
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(1)), std::make_pair(LeaderEpoch(1), Offset(4)));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(2)), std::make_pair(LeaderEpoch(1), Offset(4)));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(3)), std::make_pair(LeaderEpoch(3), Offset(6)));
}

TEST_F(LogAppendTest, ReadHonoursMaxBytesMaxOffsetAndMinOneMessage) {
  LogConfig config;
  config.segment_bytes = 2000;
  auto log = OpenLog(config);
  auto infos = AppendBatches(*log, 10, 2, 200, clock_.NowMs());
  const uint64_t batch_size =
      ReadRegions(log->Read(Offset(0), 1, Offset(2), true)->regions)->size();
  ASSERT_GT(batch_size, 400u);
  // max_bytes cuts at batch boundaries.
  auto r = log->Read(Offset(0), 3 * batch_size + 10, Offset(20), false);
  EXPECT_EQ(r->bytes, 3 * batch_size);
  // Reads span segments (the segments hold three batches each).
  r = log->Read(Offset(2), 6 * batch_size, Offset(20), false);
  EXPECT_EQ(r->bytes, 6 * batch_size);
  EXPECT_GE(r->regions.size(), 2u);
  // A batch too big for max_bytes comes whole only with min_one_message (KIP-74).
  EXPECT_EQ(log->Read(Offset(4), 10, Offset(20), false)->bytes, 0u);
  EXPECT_EQ(log->Read(Offset(4), 10, Offset(20), true)->bytes, batch_size);
  // The upper bound (high watermark) excludes the batch holding it.
  r = log->Read(Offset(0), 1 << 20, Offset(5), false);
  EXPECT_EQ(r->bytes, 2 * batch_size);
  // An offset inside a batch returns that whole batch.
  EXPECT_EQ(protocol::RecordBatchHeader::Decode(
                ReadRegions(log->Read(Offset(7), 1, Offset(20), true)->regions)->data())
                .base_offset,
            Offset(6));
  // Out of range on both sides; the log end offset itself reads empty.
  EXPECT_EQ(log->Read(Offset(21), 100, Offset(30), true).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(log->Read(Offset(20), 100, Offset(30), true)->regions.empty());
}

TEST_F(LogAppendTest, FindsOffsetsByTimestamp) {
  LogConfig config;
  config.segment_bytes = 2000;
  config.index_interval_bytes = 100;
  auto log = OpenLog(config);
  const int64_t t0 = clock_.NowMs() - 100'000;
  for (int i = 0; i < 10; ++i) {
    std::vector<uint8_t> b = MakeBatch(3, 100, t0 + i * 1000);  // records at +0, +1, +2
    ASSERT_TRUE(log->AppendAsLeader(b, LeaderEpoch(0)).ok());
  }
  auto at = [&](int64_t ts) { return log->FetchOffsetByTimestamp(ts); };
  EXPECT_EQ(**at(t0), (TimestampAndOffset{t0, Offset(0)}));
  EXPECT_EQ(**at(t0 + 1), (TimestampAndOffset{t0 + 1, Offset(1)}));
  EXPECT_EQ(**at(t0 + 5000), (TimestampAndOffset{t0 + 5000, Offset(15)}));
  EXPECT_EQ(**at(t0 + 5500), (TimestampAndOffset{t0 + 6000, Offset(18)}));
  EXPECT_FALSE(at(t0 + 100'000)->has_value());
  EXPECT_EQ((*at(kEarliestTimestamp))->offset, Offset(0));
  EXPECT_EQ((*at(kLatestTimestamp))->offset, Offset(30));
  EXPECT_EQ(**at(kMaxTimestamp), (TimestampAndOffset{t0 + 9002, Offset(29)}));
}

TEST_F(LogAppendTest, TrimToWholeBatchesKeepsOnlyBatchesThatFitAcrossSegments) {
  auto log = OpenLog();
  std::vector<size_t> sizes;
  for (int i = 0; i < 6; ++i) {
    std::vector<uint8_t> b = MakeBatch(1, 100 + 10 * i, clock_.NowMs());
    sizes.push_back(b.size());
    ASSERT_TRUE(log->AppendAsLeader(b, LeaderEpoch(0)).ok());
    if (i == 2) {
      ASSERT_TRUE(log->Roll().ok());  // two regions: batches 0-2 and 3-5
    }
  }
  auto read = [&] {
    auto r = log->Read(Offset(0), 1 << 20, Offset(100), true);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->regions.size(), 2u);
    return *r;
  };
  size_t all = 0;
  for (size_t s : sizes) all += s;

  LogReadResult r = read();
  ASSERT_TRUE(TrimToWholeBatches(&r, all).ok());
  EXPECT_EQ(r.bytes, all);  // everything fits: untouched

  // Inside the second region: batches 0-3.
  r = read();
  const uint64_t four = sizes[0] + sizes[1] + sizes[2] + sizes[3];
  ASSERT_TRUE(TrimToWholeBatches(&r, four + sizes[4] - 1).ok());
  EXPECT_EQ(r.bytes, four);
  ASSERT_EQ(r.regions.size(), 2u);
  EXPECT_EQ(r.regions[1].length, sizes[3]);
  auto bytes = ReadRegions(r.regions);
  ASSERT_TRUE(bytes.ok());
  protocol::RecordBatchIterator it(*bytes);
  int batches = 0;
  while (it.Next()) ++batches;
  EXPECT_EQ(batches, 4);
  EXPECT_FALSE(it.has_partial_tail());

  // Exactly the first region; then inside the first; then less than one batch.
  r = read();
  ASSERT_TRUE(TrimToWholeBatches(&r, sizes[0] + sizes[1] + sizes[2]).ok());
  EXPECT_EQ(r.regions.size(), 1u);
  r = read();
  ASSERT_TRUE(TrimToWholeBatches(&r, sizes[0] + 1).ok());
  EXPECT_EQ(r.bytes, sizes[0]);
  r = read();
  ASSERT_TRUE(TrimToWholeBatches(&r, sizes[0] - 1).ok());
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_TRUE(r.regions.empty());
}

}  // namespace
}  // namespace fjord::storage
