// Idempotent producers (KIP-98) in the log: retried batches are answered with their
// original offsets, sequence gaps and old epochs are refused, and the state comes back
// when the log is opened again.
#include "fjord/storage/producer_state.h"

#include <gtest/gtest.h>

#include "fjord/storage/log.h"
#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::MakeParams;

std::vector<uint8_t> IdempotentBatch(int64_t pid, int16_t epoch, int32_t seq, int records,
                                     int64_t ts) {
  protocol::RecordBatchBuilder b;
  b.SetProducer(ProducerId(pid), ProducerEpoch(epoch), seq);
  for (int i = 0; i < records; ++i) {
    const std::string value = "v" + std::to_string(seq + i);
    b.Add(ts + i, protocol::AsBytes("k"), protocol::AsBytes(value));
  }
  absl::StatusOr<std::vector<uint8_t>> out = std::move(b).Build();
  EXPECT_TRUE(out.ok()) << out.status();
  return *out;
}

class ProducerStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog() {
    auto log = Log::Open(MakeParams(fs_, clock_, dir_ / "orders-0"));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  absl::StatusOr<LogAppendInfo> Append(Log& log, int64_t pid, int16_t epoch, int32_t seq,
                                       int records = 2) {
    std::vector<uint8_t> batch = IdempotentBatch(pid, epoch, seq, records, clock_.NowMs());
    return log.AppendAsLeader(batch, LeaderEpoch(0));
  }

  TempDir dir_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
};

TEST_F(ProducerStateTest, RetriedBatchGetsItsOriginalOffsetsAndIsNotWrittenTwice) {
  auto log = OpenLog();
  ASSERT_TRUE(Append(*log, 7, 0, 0).ok());
  auto second = Append(*log, 7, 0, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->first_offset, Offset(2));
  auto again = Append(*log, 7, 0, 0);  // the first batch, retried
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->first_offset, Offset(0));
  EXPECT_EQ(again->last_offset, Offset(1));
  EXPECT_EQ(log->log_end_offset(), Offset(4));
  // Another producer's sequences are its own.
  auto other = Append(*log, 8, 0, 0);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->first_offset, Offset(4));
}

TEST_F(ProducerStateTest, GapsAndOldEpochsAreRefused) {
  auto log = OpenLog();
  ASSERT_TRUE(Append(*log, 7, 1, 0).ok());
  auto gap = Append(*log, 7, 1, 5);
  EXPECT_EQ(AppendErrorOf(gap.status()), AppendError::kOutOfOrderSequence);
  auto old = Append(*log, 7, 0, 2);
  EXPECT_EQ(AppendErrorOf(old.status()), AppendError::kInvalidProducerEpoch);
  // A bumped epoch must start at sequence 0.
  auto bumped_wrong = Append(*log, 7, 2, 2);
  EXPECT_EQ(AppendErrorOf(bumped_wrong.status()), AppendError::kOutOfOrderSequence);
  ASSERT_TRUE(Append(*log, 7, 2, 0).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(4));
}

TEST_F(ProducerStateTest, StateIsRebuiltWhenTheLogIsOpenedAgain) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Append(*log, 7, 0, 0).ok());
    ASSERT_TRUE(Append(*log, 7, 0, 2).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenLog();
  auto retry = Append(*log, 7, 0, 2);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->first_offset, Offset(2));
  EXPECT_EQ(log->log_end_offset(), Offset(4));
  EXPECT_EQ(AppendErrorOf(Append(*log, 7, 0, 9).status()), AppendError::kOutOfOrderSequence);
  ASSERT_TRUE(Append(*log, 7, 0, 4).ok());
}

TEST(ProducerStateTableTest, KeepsFiveBatchesWrapsSequencesAndTruncates) {
  ProducerStateTable t;
  for (int i = 0; i < 7; ++i) {
    t.Record(ProducerId(1), ProducerEpoch(0),
             {i * 10, i * 10 + 9, Offset(i * 10), Offset(i * 10 + 9), i});
  }
  EXPECT_EQ(t.Find(ProducerId(1))->batches.size(), ProducerStateTable::kMaxBatches);
  EXPECT_TRUE(t.Check(ProducerId(1), ProducerEpoch(0), 60, 69).duplicate.has_value());
  EXPECT_EQ(t.Check(ProducerId(1), ProducerEpoch(0), 0, 9).error,
            AppendError::kOutOfOrderSequence);  // too old to be recognised
  EXPECT_EQ(t.Check(ProducerId(1), ProducerEpoch(0), 70, 79).error, AppendError::kNone);
  t.Record(ProducerId(2), ProducerEpoch(0),
           {INT32_MAX - 1, INT32_MAX, Offset(100), Offset(101), 9});
  EXPECT_EQ(t.Check(ProducerId(2), ProducerEpoch(0), 0, 3).error, AppendError::kNone);
  t.TruncateFrom(Offset(50));
  EXPECT_EQ(t.Find(ProducerId(1))->batches.back().last_offset, Offset(49));
  EXPECT_EQ(t.Find(ProducerId(2)), nullptr);
  EXPECT_EQ(t.ExpireBefore(100), 1u);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace fjord::storage
