// Log durability: clean reopen, recovery after an unclean stop, corrupt files, and the
// fault-injecting FileSystem (lost unsynced data, torn writes, ENOSPC, EIO).
#include <gtest/gtest.h>

#include <random>

#include "fjord/storage/fault_injection_file_system.h"
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
using Batches = std::vector<std::pair<int64_t, int64_t>>;

class LogRecoveryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog(bool clean, Offset recovery_point = Offset(0),
                               FileSystem* fs = nullptr) {
    Log::Params p = MakeParams(fs ? *fs : posix_, clock_, dir(), config_);
    p.had_clean_shutdown = clean;
    p.recovery_point = recovery_point;
    auto log = Log::Open(std::move(p));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::string dir() const { return tmp_ / "orders-0"; }
  std::string SegmentPath(int64_t base, const std::string& suffix) const {
    return JoinPath(dir(), Segment::FileName(Offset(base), suffix));
  }
  uint64_t FileSize(const std::string& path) {
    auto f = posix_.Open(path, false);
    return f.ok() ? *(*f)->Size() : 0;
  }
  void WriteAt(const std::string& path, uint64_t at, std::vector<uint8_t> bytes) {
    auto f = posix_.Open(path, false);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(at, bytes).ok());
  }

  TempDir tmp_;
  FileSystem& posix_ = PosixFileSystem();
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(LogRecoveryTest, CleanReopenKeepsEverythingAndTrustsTheIndexes) {
  config_.segment_bytes = 4000;
  config_.index_interval_bytes = 100;
  Batches before;
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 30, 3, 100, clock_.NowMs());
    before = ReadAllBatches(*log);
    ASSERT_TRUE(log->Close().ok());
    EXPECT_EQ(log->recovery_point(), Offset(90));
  }
  const uint64_t index_size = FileSize(SegmentPath(0, ".index"));
  EXPECT_GT(index_size, 0u);
  auto log = OpenLog(true, Offset(90));
  EXPECT_EQ(log->log_end_offset(), Offset(90));
  EXPECT_EQ(ReadAllBatches(*log), before);
  EXPECT_EQ(FileSize(SegmentPath(0, ".index")), index_size);
  // The time index survives too: the largest timestamp of the whole log is found.
  EXPECT_EQ((*log->FetchOffsetByTimestamp(kMaxTimestamp))->offset, Offset(89));
}

TEST_F(LogRecoveryTest, RecoveryTruncatesTornBatchAtTail) {
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 5, 2, 50, clock_.NowMs());
  }
  const std::string path = SegmentPath(0, ".log");
  const uint64_t good = FileSize(path);
  // Half of another batch made it to disk.
  std::vector<uint8_t> batch = MakeBatch(2, 50, clock_.NowMs());
  ASSERT_TRUE(protocol::SetBaseOffset(batch, Offset(10)).ok());
  batch.resize(batch.size() / 2);
  WriteAt(path, good, batch);
  auto log = OpenLog(false);
  EXPECT_EQ(FileSize(path), good);
  EXPECT_EQ(log->log_end_offset(), Offset(10));
  EXPECT_EQ(ReadAllBatches(*log).size(), 5u);
  // The log goes on from there.
  AppendBatches(*log, 1, 2, 50, clock_.NowMs());
  EXPECT_EQ(log->log_end_offset(), Offset(12));
}

TEST_F(LogRecoveryTest, CorruptByteInTheTailTruncatesThereAndDropsLaterSegments) {
  config_.segment_bytes = 2000;
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 12, 2, 200, clock_.NowMs());  // ~470-byte batches, 4 a segment
    ASSERT_GE(log->segment_count(), 3u);
  }
  // Flip one byte inside the second batch of segment 8 (offsets 8..15).
  const std::string path = SegmentPath(8, ".log");
  auto f = posix_.Open(path, false);
  ASSERT_TRUE(f.ok());
  uint8_t byte;
  const uint64_t at = FileSize(path) / 4 + 100;  // inside the second batch
  ASSERT_EQ(*(*f)->ReadAt(at, {&byte, 1}), 1u);
  byte ^= 0x5a;
  ASSERT_TRUE((*f)->WriteAt(at, {&byte, 1}).ok());
  f->reset();
  auto log = OpenLog(false);
  EXPECT_EQ(log->log_end_offset(), Offset(10));
  EXPECT_EQ(ReadAllBatches(*log).size(), 5u);
  EXPECT_FALSE(posix_.Exists(SegmentPath(16, ".log")));
}

TEST_F(LogRecoveryTest, OnlySegmentsFromTheRecoveryPointAreScanned) {
  config_.segment_bytes = 2000;
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 12, 2, 200, clock_.NowMs());
  }
  // Damage a byte of the first segment: below the recovery point it is trusted, so the
  // scan starting at segment 16 does not notice (as in Kafka; the CRC is checked by
  // consumers).
  const std::string first = SegmentPath(0, ".log");
  WriteAt(first, FileSize(first) - 5, {0xee});
  auto log = OpenLog(false, Offset(16));
  EXPECT_EQ(log->log_end_offset(), Offset(24));
}

TEST_F(LogRecoveryTest, CorruptOrMissingIndexesAreRebuiltNeverTrusted) {
  config_.index_interval_bytes = 100;
  Batches before;
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 20, 2, 100, clock_.NowMs());
    before = ReadAllBatches(*log);
    ASSERT_TRUE(log->Close().ok());
  }
  const uint64_t index_size = FileSize(SegmentPath(0, ".index"));
  // A torn index (not a whole number of entries) and a missing time index.
  WriteAt(SegmentPath(0, ".index"), index_size, {1, 2, 3});
  ASSERT_TRUE(posix_.Remove(SegmentPath(0, ".timeindex")).ok());
  auto log = OpenLog(true, Offset(40));
  EXPECT_EQ(ReadAllBatches(*log), before);
  EXPECT_EQ((*log->FetchOffsetByTimestamp(kMaxTimestamp))->offset, Offset(39));
  for (int64_t o = 0; o < 40; o += 3) {
    auto r = log->Read(Offset(o), 1, Offset(40), true);
    auto h = protocol::RecordBatchHeader::Decode(ReadRegions(r->regions)->data());
    EXPECT_LE(h.base_offset, Offset(o));
    EXPECT_GE(h.last_offset(), Offset(o));
  }
  // Rebuilt entries reach the file by the time the log closes.
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(FileSize(SegmentPath(0, ".index")), index_size);
}

TEST_F(LogRecoveryTest, IndexPointingPastTheLogIsRebuilt) {
  config_.index_interval_bytes = 100;
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 10, 2, 100, clock_.NowMs());
    ASSERT_TRUE(log->Close().ok());
  }
  // The log lost its tail but the index kept entries for it (an impossible clean state).
  const std::string path = SegmentPath(0, ".log");
  auto f = posix_.Open(path, false);
  ASSERT_TRUE((*f)->Truncate(FileSize(path) / 2).ok());
  f->reset();
  auto log = OpenLog(true, Offset(20));
  EXPECT_LT(log->log_end_offset(), Offset(20));
  EXPECT_EQ(ReadAllBatches(*log).back().second + 1, log->log_end_offset().value);
}

TEST_F(LogRecoveryTest, IndexEntryNamingAnOffsetTheLogLacksIsNotTrusted) {
  // Found by fuzz_storage: a one-entry .index (relative offset 6307840 at position 0)
  // beside a healthy log was trusted, and the next append failed on "key goes backwards".
  {
    auto log = OpenLog(false);
    AppendBatches(*log, 8, 1, 10, clock_.NowMs());
    ASSERT_TRUE(log->Close().ok());
  }
  auto f = posix_.Open(SegmentPath(0, ".index"), false);
  ASSERT_TRUE((*f)->Truncate(0).ok());
  ASSERT_TRUE((*f)->WriteAt(0, std::vector<uint8_t>{0, 0x60, 0x40, 0, 0, 0, 0, 0}).ok());
  f->reset();
  auto log = OpenLog(true, Offset(8));
  EXPECT_EQ(log->log_end_offset(), Offset(8));
  EXPECT_EQ(ReadAllBatches(*log).size(), 8u);
  AppendBatches(*log, 1, 1, 10, clock_.NowMs());
  EXPECT_EQ(log->log_end_offset(), Offset(9));
}

TEST_F(LogRecoveryTest, LostUnsyncedSuffixKeepsEveryFlushedBatch) {
  FaultInjectionFileSystem fs(posix_, 7);
  Offset flushed;
  {
    Log::Params p = MakeParams(fs, clock_, dir(), config_);
    auto log = Log::Open(std::move(p));
    ASSERT_TRUE(log.ok());
    AppendBatches(**log, 10, 2, 100, clock_.NowMs());
    ASSERT_TRUE((*log)->FlushAll().ok());
    flushed = (*log)->log_end_offset();
    AppendBatches(**log, 10, 2, 100, clock_.NowMs());
  }
  for (auto mode : {FaultInjectionFileSystem::CrashMode::kTornTail,
                    FaultInjectionFileSystem::CrashMode::kGarbageTail,
                    FaultInjectionFileSystem::CrashMode::kDropUnsynced}) {
    ASSERT_TRUE(fs.SimulateCrash(mode).ok());
    auto log = OpenLog(false, Offset(0), &fs);
    ASSERT_NE(log, nullptr);
    EXPECT_GE(log->log_end_offset(), flushed);
    Batches got = ReadAllBatches(*log);
    for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].first, got[i - 1].second + 1);
  }
}

TEST_F(LogRecoveryTest, FlushMessagesOneMakesEveryAppendDurable) {
  config_.flush_messages = 1;
  FaultInjectionFileSystem fs(posix_, 11);
  {
    auto log = OpenLog(false, Offset(0), &fs);
    AppendBatches(*log, 7, 3, 100, clock_.NowMs());
    EXPECT_EQ(log->recovery_point(), Offset(21));
  }
  ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kDropUnsynced).ok());
  auto log = OpenLog(false, Offset(0), &fs);
  EXPECT_EQ(log->log_end_offset(), Offset(21));
}

TEST_F(LogRecoveryTest, DiskFullFailsTheAppendThenRecoversWhenSpaceReturns) {
  FaultInjectionFileSystem fs(posix_, 3);
  auto log = OpenLog(false, Offset(0), &fs);
  AppendBatches(*log, 3, 2, 100, clock_.NowMs());
  fs.SetWriteBudget(100);  // less than a batch
  std::vector<uint8_t> batch = MakeBatch(2, 100, clock_.NowMs());
  auto info = log->AppendAsLeader(batch, LeaderEpoch(0));
  EXPECT_EQ(AppendErrorOf(info.status()), AppendError::kStorage);
  EXPECT_EQ(log->log_end_offset(), Offset(6));
  fs.ClearWriteBudget();
  AppendBatches(*log, 2, 2, 100, clock_.NowMs());
  EXPECT_EQ(log->log_end_offset(), Offset(10));
  Batches got = ReadAllBatches(*log);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got.back(), std::make_pair(int64_t{8}, int64_t{9}));
  log.reset();
  auto reopened = OpenLog(false, Offset(0), &fs);
  EXPECT_EQ(reopened->log_end_offset(), Offset(10));
}

TEST_F(LogRecoveryTest, ReadErrorsAreReportedNotHidden) {
  FaultInjectionFileSystem fs(posix_, 5);
  auto log = OpenLog(false, Offset(0), &fs);
  AppendBatches(*log, 3, 2, 100, clock_.NowMs());
  fs.FailReads(true);
  auto r = log->Read(Offset(2), 1 << 20, Offset(6), true);
  EXPECT_FALSE(r.ok());
  fs.FailReads(false);
  EXPECT_EQ(ReadAllBatches(*log).size(), 3u);
  // A failing fsync fails the flush and leaves the recovery point where it was.
  fs.FailSyncs(true);
  EXPECT_FALSE(log->FlushAll().ok());
  EXPECT_EQ(log->recovery_point(), Offset(0));
  fs.FailSyncs(false);
  EXPECT_TRUE(log->FlushAll().ok());
  EXPECT_EQ(log->recovery_point(), Offset(6));
}

TEST_F(LogRecoveryTest, RandomGarbageAfterTheLastBatchIsCutAway) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    Offset leo;
    {
      auto log = OpenLog(false);
      AppendBatches(*log, 1 + static_cast<int>(rng() % 3), 2, 64, clock_.NowMs());
      leo = log->log_end_offset();
    }
    const std::string path = SegmentPath(0, ".log");
    std::vector<uint8_t> junk(1 + rng() % 200);
    for (uint8_t& b : junk) b = static_cast<uint8_t>(rng());
    WriteAt(path, FileSize(path), junk);
    auto log = OpenLog(false);
    EXPECT_EQ(log->log_end_offset(), leo) << "round " << round;
  }
}

}  // namespace
}  // namespace fjord::storage
