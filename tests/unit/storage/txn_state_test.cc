// Transactions (KIP-98) in the log: open transactions bound the first unstable offset,
// markers close them, aborts go to the transaction index, and all of it comes back when
// the log is opened again.
#include <gtest/gtest.h>

#include <algorithm>

#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/log.h"
#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::MakeParams;

std::vector<uint8_t> Batch(int64_t pid, int16_t epoch, int32_t seq, bool transactional,
                           int64_t ts) {
  protocol::RecordBatchBuilder b;
  b.SetProducer(ProducerId(pid), ProducerEpoch(epoch), seq).SetTransactional(transactional);
  b.Add(ts, protocol::AsBytes("k"), protocol::AsBytes("v" + std::to_string(seq)));
  absl::StatusOr<std::vector<uint8_t>> out = std::move(b).Build();
  EXPECT_TRUE(out.ok()) << out.status();
  return *out;
}

class TxnStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog() {
    auto log = Log::Open(MakeParams(fs_, clock_, dir_ / "orders-0"));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  absl::StatusOr<LogAppendInfo> Data(Log& log, int64_t pid, int16_t epoch, int32_t seq,
                                     bool transactional = true) {
    std::vector<uint8_t> batch = Batch(pid, epoch, seq, transactional, clock_.NowMs());
    return log.AppendAsLeader(batch, LeaderEpoch(0));
  }
  // A client's append with KIP-890 verification on, presenting `guard`.
  absl::StatusOr<LogAppendInfo> Verified(Log& log, int64_t pid, int16_t epoch, int32_t seq,
                                         VerificationGuard guard, bool transactional = true) {
    std::vector<uint8_t> batch = Batch(pid, epoch, seq, transactional, clock_.NowMs());
    return log.AppendAsLeader(batch, LeaderEpoch(0), AppendOrigin::kClient, guard);
  }
  absl::StatusOr<LogAppendInfo> Marker(Log& log, int64_t pid, int16_t epoch, bool commit,
                                       int32_t coordinator_epoch = 0) {
    std::vector<uint8_t> batch = protocol::BuildControlBatch(
        Offset(0), ProducerId(pid), ProducerEpoch(epoch),
        {commit ? protocol::ControlRecordType::kCommit : protocol::ControlRecordType::kAbort,
         coordinator_epoch},
        clock_.NowMs());
    return log.AppendAsLeader(batch, LeaderEpoch(0), AppendOrigin::kCoordinator);
  }

  TempDir dir_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
};

TEST_F(TxnStateTest, OpenTransactionsBoundTheFirstUnstableOffsetUntilTheirMarkers) {
  auto log = OpenLog();
  ASSERT_TRUE(Data(*log, 1, 0, 0, false).ok());  // offset 0: idempotent, not transactional
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);
  ASSERT_TRUE(Data(*log, 2, 0, 0).ok());  // 1: producer 2 opens a transaction
  ASSERT_TRUE(Data(*log, 3, 0, 0).ok());  // 2: producer 3 too
  ASSERT_TRUE(Data(*log, 2, 0, 1).ok());  // 3
  EXPECT_EQ(log->FirstUnstableOffset(), Offset(1));
  ASSERT_TRUE(Marker(*log, 2, 0, true).ok());  // 4: producer 2 commits
  EXPECT_EQ(log->FirstUnstableOffset(), Offset(2));
  ASSERT_TRUE(Marker(*log, 3, 0, false).ok());  // 5: producer 3 aborts
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);

  auto aborted = log->CollectAbortedTxns(Offset(0), Offset(6));
  ASSERT_TRUE(aborted.ok()) << aborted.status();
  ASSERT_EQ(aborted->size(), 1u);
  EXPECT_EQ((*aborted)[0], (AbortedTxn{ProducerId(3), Offset(2), Offset(5), Offset(6)}));
  // A fetch past the abort needs no entry.
  aborted = log->CollectAbortedTxns(Offset(6), Offset(6));
  ASSERT_TRUE(aborted.ok());
  EXPECT_TRUE(aborted->empty());
}

TEST_F(TxnStateTest, ReopenedLogKnowsOpenTransactionsAndIndexedAborts) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Data(*log, 2, 0, 0).ok());        // 0
    ASSERT_TRUE(Marker(*log, 2, 0, false).ok());  // 1: aborted
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(Data(*log, 4, 0, 0).ok());  // 2: still open at the stop
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenLog();
  EXPECT_EQ(log->FirstUnstableOffset(), Offset(2));
  auto aborted = log->CollectAbortedTxns(Offset(0), Offset(3));
  ASSERT_TRUE(aborted.ok());
  ASSERT_EQ(aborted->size(), 1u);  // indexed once, not again on load
  EXPECT_EQ((*aborted)[0].producer_id, ProducerId(2));
  ASSERT_TRUE(Marker(*log, 4, 0, true).ok());
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);
}

TEST_F(TxnStateTest, FencedAndOutOfStateWritesAreRefused) {
  auto log = OpenLog();
  ASSERT_TRUE(Data(*log, 5, 0, 0).ok());
  // Plain data while the transaction is open.
  auto plain = Data(*log, 5, 0, 1, false);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(AppendErrorOf(plain.status()), AppendError::kInvalidTxnState);
  // The coordinator fences the producer: abort with a bumped epoch.
  ASSERT_TRUE(Marker(*log, 5, 1, false, 3).ok());
  auto zombie = Data(*log, 5, 0, 1);
  ASSERT_FALSE(zombie.ok());
  EXPECT_EQ(AppendErrorOf(zombie.status()), AppendError::kInvalidProducerEpoch);
  // A marker from an older coordinator epoch.
  auto stale = Marker(*log, 5, 1, true, 2);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(AppendErrorOf(stale.status()), AppendError::kCoordinatorFenced);
  // The bumped epoch starts over at sequence 0.
  EXPECT_TRUE(Data(*log, 5, 1, 0).ok());
}

TEST_F(TxnStateTest, TruncationReopensNothingItRemoved) {
  auto log = OpenLog();
  ASSERT_TRUE(Data(*log, 1, 0, 0, false).ok());  // 0
  ASSERT_TRUE(Data(*log, 6, 0, 0).ok());         // 1: opens
  EXPECT_EQ(log->FirstUnstableOffset(), Offset(1));
  ASSERT_TRUE(log->TruncateTo(Offset(1)).ok());
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);
}

TEST_F(TxnStateTest, IdleProducersExpireButOpenTransactionsStay) {
  auto log = OpenLog();
  ASSERT_TRUE(Data(*log, 1, 0, 0, false).ok());  // idle idempotent producer
  ASSERT_TRUE(Data(*log, 2, 0, 0).ok());         // open transaction, as old
  clock_.AdvanceMs(10000);
  ASSERT_TRUE(Data(*log, 3, 0, 0, false).ok());  // recent
  EXPECT_EQ(log->ExpireProducers(clock_.NowMs() - 5000), 1u);
  std::vector<int64_t> left;
  for (const auto& [id, e] : log->Producers()) left.push_back(id.value);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<int64_t>{2, 3}));
  // The forgotten producer's next batch starts afresh (any sequence).
  EXPECT_TRUE(Data(*log, 1, 0, 9, false).ok());
}

// KIP-890: a producer's first transactional batch needs the guard of its verification.
TEST_F(TxnStateTest, FirstTransactionalBatchNeedsItsVerificationGuard) {
  auto log = OpenLog();
  // No guard (the sentinel): not part of any transaction the log knows of.
  auto forged = Verified(*log, 7, 0, 0, VerificationGuard{});
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(AppendErrorOf(forged.status()), AppendError::kInvalidTxnState);
  EXPECT_EQ(log->log_end_offset(), Offset(0));
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);
  // Someone else's guard does not do either.
  const VerificationGuard other = log->StartTxnVerification(ProducerId(8), 0, ProducerEpoch(0));
  const VerificationGuard guard = log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0));
  ASSERT_FALSE(guard.is_sentinel());
  EXPECT_NE(guard, other);
  EXPECT_EQ(log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0)), guard);  // a retry
  auto wrong = Verified(*log, 7, 0, 0, other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(AppendErrorOf(wrong.status()), AppendError::kInvalidTxnState);
  // With its own guard it opens the transaction; later batches need none.
  ASSERT_TRUE(Verified(*log, 7, 0, 0, guard).ok());
  EXPECT_TRUE(log->StartTxnVerification(ProducerId(7), 1, ProducerEpoch(0)).is_sentinel());
  ASSERT_TRUE(Verified(*log, 7, 0, 1, VerificationGuard{}).ok());
  EXPECT_EQ(log->FirstUnstableOffset(), Offset(0));
  // Non-transactional and idempotent batches are not verified.
  EXPECT_TRUE(Verified(*log, 9, 0, 0, VerificationGuard{}, false).ok());
}

// The race verification guards close: a verification answered for a transaction that a
// marker has since ended must not open a new one.
TEST_F(TxnStateTest, MarkerBetweenVerificationAndAppendVoidsTheGuard) {
  auto log = OpenLog();
  const VerificationGuard guard = log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0));
  ASSERT_TRUE(Marker(*log, 7, 0, false).ok());  // the coordinator aborted meanwhile
  auto stale = Verified(*log, 7, 0, 0, guard);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(AppendErrorOf(stale.status()), AppendError::kInvalidTxnState);
  EXPECT_EQ(log->FirstUnstableOffset(), std::nullopt);
  // A fresh verification gets a fresh guard.
  const VerificationGuard fresh = log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0));
  EXPECT_NE(fresh, guard);
  EXPECT_TRUE(Verified(*log, 7, 0, 0, fresh).ok());

  // The transaction is over once its marker is written: the old guard is gone and the
  // next transaction is verified again.
  ASSERT_TRUE(Marker(*log, 7, 0, true).ok());
  auto after = Verified(*log, 7, 0, 1, fresh);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(AppendErrorOf(after.status()), AppendError::kInvalidTxnState);
}

TEST_F(TxnStateTest, HigherSequenceWaitsForTheVerifiedOne) {
  auto log = OpenLog();
  const VerificationGuard guard = log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0));
  // Sequence 1 overtook sequence 0, whose verification is still out.
  EXPECT_EQ(log->StartTxnVerification(ProducerId(7), 1, ProducerEpoch(0)), guard);
  auto early = Verified(*log, 7, 0, 1, guard);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(AppendErrorOf(early.status()), AppendError::kOutOfOrderSequence);
  ASSERT_TRUE(Verified(*log, 7, 0, 0, guard).ok());
  EXPECT_TRUE(Verified(*log, 7, 0, 1, VerificationGuard{}).ok());
}

TEST_F(TxnStateTest, VerificationsExpireWithIdleProducers) {
  auto log = OpenLog();
  const VerificationGuard guard = log->StartTxnVerification(ProducerId(7), 0, ProducerEpoch(0));
  clock_.AdvanceMs(10000);
  log->ExpireProducers(clock_.NowMs() - 5000);
  auto expired = Verified(*log, 7, 0, 0, guard);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(AppendErrorOf(expired.status()), AppendError::kInvalidTxnState);
}

}  // namespace
}  // namespace fjord::storage
