// Retention (time, size, log start offset), asynchronous deletion, truncation.
#include <gtest/gtest.h>

#include <algorithm>

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

class LogRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.segment_bytes = 2000;  // four ~470-byte batches a segment
    config_.file_delete_delay_ms = 60'000;
  }
  std::unique_ptr<Log> OpenLog() {
    auto log = Log::Open(MakeParams(fs_, clock_, dir_ / "orders-0", config_));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  int CountFiles(const std::string& suffix) {
    auto names = fs_.List(dir_ / "orders-0");
    return static_cast<int>(std::count_if(names->begin(), names->end(), [&](const std::string& n) {
      return n.size() >= suffix.size() &&
             n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    }));
  }

  TempDir dir_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(LogRetentionTest, RetentionMsDeletesSegmentsOlderThanTheirNewestRecord) {
  config_.retention_ms = 60'000;
  auto log = OpenLog();
  AppendBatches(*log, 8, 2, 200, clock_.NowMs() - 120'000);  // two old segments
  AppendBatches(*log, 4, 2, 200, clock_.NowMs());            // one fresh
  ASSERT_EQ(log->segment_count(), 3u);
  auto n = log->DeleteOldSegments(log->log_end_offset());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(log->log_start_offset(), Offset(16));
  EXPECT_EQ(ReadAllBatches(*log, Offset(16)).size(), 4u);
  EXPECT_EQ(log->Read(Offset(0), 100, Offset(30), true).status().code(),
            absl::StatusCode::kOutOfRange);
  // The files linger as .deleted until file.delete.delay.ms has passed.
  EXPECT_EQ(CountFiles(".log.deleted"), 2);
  ASSERT_TRUE(log->DeleteExpiredFiles(clock_.NowMs() + 30'000).ok());
  EXPECT_EQ(CountFiles(".log.deleted"), 2);
  ASSERT_TRUE(log->DeleteExpiredFiles(clock_.NowMs() + 60'000).ok());
  EXPECT_EQ(CountFiles(".deleted"), 0);
  EXPECT_EQ(CountFiles(".log"), 1);
}

TEST_F(LogRetentionTest, RetentionBytesKeepsTheNewestSegmentsWithinTheLimit) {
  config_.retention_bytes = 3000;
  auto log = OpenLog();
  AppendBatches(*log, 16, 2, 200, clock_.NowMs());
  ASSERT_EQ(log->segment_count(), 4u);
  auto n = log->DeleteOldSegments(log->log_end_offset());
  EXPECT_EQ(*n, 2);
  EXPECT_LE(log->size_bytes(), 3000u + 2000u);
  EXPECT_EQ(log->log_start_offset(), Offset(16));
}

TEST_F(LogRetentionTest, NothingAtOrAboveTheHighWatermarkIsDeleted) {
  config_.retention_ms = 0;
  auto log = OpenLog();
  AppendBatches(*log, 12, 2, 200, clock_.NowMs() - 10'000);
  clock_.AdvanceMs(1);
  EXPECT_EQ(*log->DeleteOldSegments(Offset(10)), 1);  // only segment 0..7 is below
  EXPECT_EQ(log->log_start_offset(), Offset(8));
  // With the high watermark at the end everything goes, and an empty active segment
  // remains at the log end offset.
  EXPECT_EQ(*log->DeleteOldSegments(log->log_end_offset()), 2);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), Offset(24));
  EXPECT_EQ(log->log_end_offset(), Offset(24));
  AppendBatches(*log, 1, 2, 200, clock_.NowMs());
  EXPECT_EQ(log->log_end_offset(), Offset(26));
}

TEST_F(LogRetentionTest, DeleteRecordsMovesTheLogStartOffsetAndDropsWholeSegments) {
  auto log = OpenLog();
  AppendBatches(*log, 12, 2, 200, clock_.NowMs());
  EXPECT_EQ(log->MaybeIncrementLogStartOffset(Offset(30)).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(*log->MaybeIncrementLogStartOffset(Offset(11)));
  EXPECT_FALSE(*log->MaybeIncrementLogStartOffset(Offset(5)));
  EXPECT_EQ(log->log_start_offset(), Offset(11));
  EXPECT_EQ(log->Read(Offset(10), 100, Offset(30), true).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*log->FetchOffsetByTimestamp(kEarliestTimestamp))->offset, Offset(11));
  EXPECT_EQ(*log->DeleteOldSegments(log->log_end_offset()), 1);
  EXPECT_EQ(log->log_start_offset(), Offset(11));  // inside the segment based at 8
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST_F(LogRetentionTest, LogStartOffsetPastTheFirstSegmentSurvivesReopen) {
  {
    auto log = OpenLog();
    AppendBatches(*log, 12, 2, 200, clock_.NowMs());
    ASSERT_TRUE(*log->MaybeIncrementLogStartOffset(Offset(13)));
    ASSERT_TRUE(log->Close().ok());
  }
  Log::Params p = MakeParams(fs_, clock_, dir_ / "orders-0", config_);
  p.log_start_offset = Offset(13);
  p.recovery_point = Offset(24);
  p.had_clean_shutdown = true;
  auto log = Log::Open(std::move(p));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->log_start_offset(), Offset(13));
  EXPECT_EQ((*log)->log_end_offset(), Offset(24));
}

TEST_F(LogRetentionTest, TruncateToDropsWholeBatchesSegmentsAndEpochs) {
  auto log = OpenLog();
  AppendBatches(*log, 6, 2, 200, clock_.NowMs(), LeaderEpoch(1));  // offsets 0..11
  AppendBatches(*log, 6, 2, 200, clock_.NowMs(), LeaderEpoch(2));  // offsets 12..23
  ASSERT_EQ(log->segment_count(), 3u);
  EXPECT_FALSE(*log->TruncateTo(Offset(24)));
  EXPECT_TRUE(*log->TruncateTo(Offset(10)));
  EXPECT_EQ(log->log_end_offset(), Offset(10));
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(log->LatestEpoch(), LeaderEpoch(1));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(1)), std::make_pair(LeaderEpoch(1), Offset(10)));
  // A truncation point inside a batch removes the whole batch.
  EXPECT_TRUE(*log->TruncateTo(Offset(7)));
  EXPECT_EQ(log->log_end_offset(), Offset(6));
  EXPECT_EQ(ReadAllBatches(*log).back().second, 5);
  // Appends carry on from there, into the surviving segment.
  AppendBatches(*log, 1, 2, 200, clock_.NowMs(), LeaderEpoch(3));
  EXPECT_EQ(log->log_end_offset(), Offset(8));
  EXPECT_EQ(log->EndOffsetForEpoch(LeaderEpoch(2)), std::make_pair(LeaderEpoch(1), Offset(6)));
}

TEST_F(LogRetentionTest, TruncateFullyAndStartAtRestartsTheLogEmpty) {
  auto log = OpenLog();
  AppendBatches(*log, 6, 2, 200, clock_.NowMs(), LeaderEpoch(1));
  ASSERT_TRUE(log->TruncateFullyAndStartAt(Offset(500)).ok());
  EXPECT_EQ(log->log_start_offset(), Offset(500));
  EXPECT_EQ(log->log_end_offset(), Offset(500));
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_FALSE(log->LatestEpoch().has_value());
  std::vector<uint8_t> b = MakeBatch(2, 10, clock_.NowMs());
  ASSERT_TRUE(protocol::SetBaseOffset(b, Offset(500)).ok());
  ASSERT_TRUE(log->AppendAsFollower(b).ok());
  EXPECT_EQ(ReadAllBatches(*log, Offset(500)),
            (std::vector<std::pair<int64_t, int64_t>>{{500, 501}}));
  EXPECT_EQ(CountFiles(".log"), 1);
  EXPECT_EQ(CountFiles(".log.deleted"), 2);
}

TEST_F(LogRetentionTest, LeftoverDeletedFilesAreRemovedAtOpen) {
  {
    auto log = OpenLog();
    AppendBatches(*log, 12, 2, 200, clock_.NowMs());
    ASSERT_TRUE(*log->MaybeIncrementLogStartOffset(Offset(9)));
    ASSERT_EQ(*log->DeleteOldSegments(log->log_end_offset()), 1);
  }
  EXPECT_EQ(CountFiles(".deleted"), 4);
  auto log = OpenLog();
  EXPECT_EQ(CountFiles(".deleted"), 0);
  EXPECT_EQ(log->log_end_offset(), Offset(24));
}

TEST_F(LogRetentionTest, FlushMsMakesAFlushDue) {
  config_.flush_ms = 1000;
  auto log = OpenLog();
  // A new log's segment files are not yet durable directory entries.
  EXPECT_TRUE(log->FlushDue(clock_.NowMs() + 5000));
  ASSERT_TRUE(log->FlushAll().ok());
  EXPECT_FALSE(log->FlushDue(clock_.NowMs() + 5000));  // nothing unflushed
  AppendBatches(*log, 1, 2, 200, clock_.NowMs());
  EXPECT_FALSE(log->FlushDue(clock_.NowMs() + 500));
  EXPECT_TRUE(log->FlushDue(clock_.NowMs() + 1000));
  ASSERT_TRUE(log->FlushAll().ok());
  EXPECT_FALSE(log->FlushDue(clock_.NowMs() + 5000));
}

}  // namespace
}  // namespace fjord::storage
