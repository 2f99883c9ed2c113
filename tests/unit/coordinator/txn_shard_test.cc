// The transaction coordinator's state machine (TxnShard) with a manual clock: its records
// land in a vector a second shard replays, producer ids come from a counter, and marker
// writes wait until the test completes them.
#include "fjord/coordinator/txn_shard.h"

#include <gtest/gtest.h>

#include "fjord/protocol/record_batch_builder.h"

namespace fjord::coordinator {
namespace {

using protocol::ErrorCode;

struct TxnFixture {
  TxnFixture() { shard = Make(); }

  std::unique_ptr<TxnShard> Make() {
    TxnConfig config;
    config.max_timeout_ms = 60000;
    config.id_expiration_ms = 3600000;
    return std::make_unique<TxnShard>(
        clock, 7,
        [this](const KeyValue& kv) {
          if (!next_append.ok()) return next_append;
          log.push_back(kv);
          return absl::OkStatus();
        },
        [this](std::function<void(absl::StatusOr<int64_t>)> done) { done(next_pid++); },
        [this](TxnMarkers m, std::function<void()> done) {
          markers.push_back(std::move(m));
          pending_markers.push_back(std::move(done));
        },
        config);
  }

  // Replays the log into a fresh shard, as a coordinator restart does.
  void Reload() {
    auto fresh = Make();
    protocol::RecordBatchBuilder b;
    for (const KeyValue& kv : log) {
      protocol::OptionalBytes value;
      if (kv.value) value = std::span<const uint8_t>(*kv.value);
      b.Add(clock.NowMs(), std::span<const uint8_t>(kv.key), value);
    }
    auto batch = std::move(b).Build();
    ASSERT_TRUE(batch.ok());
    protocol::RecordBatchIterator it(*batch);
    ASSERT_TRUE(it.Next());
    ASSERT_TRUE(fresh->ReplayBatch(it.batch()).ok());
    shard = std::move(fresh);
    shard->FinishLoad();
  }

  TxnShard::InitResult Init(const std::string& id, int32_t timeout = 10000,
                            ProducerId expected_id = ProducerId(-1),
                            ProducerEpoch expected_epoch = ProducerEpoch(-1)) {
    TxnShard::InitResult out;
    out.error = ErrorCode::kUnknownServerError;
    shard->InitProducerId(id, timeout, expected_id, expected_epoch,
                          [&](TxnShard::InitResult r) { out = r; });
    return out;
  }
  void CompleteMarkers() {
    auto done = std::move(pending_markers);
    pending_markers.clear();
    for (auto& d : done) d();
  }
  TxnState State(const std::string& id) { return shard->Find(id)->state; }

  ManualClock clock;
  std::vector<KeyValue> log;
  absl::Status next_append = absl::OkStatus();
  int64_t next_pid = 1000;
  std::vector<TxnMarkers> markers;
  std::vector<std::function<void()>> pending_markers;
  std::unique_ptr<TxnShard> shard;
};

TEST(TxnShardTest, CommitWritesMarkersToEveryPartitionThenCompletes) {
  TxnFixture f;
  auto init = f.Init("app");
  ASSERT_EQ(init.error, ErrorCode::kNone);
  EXPECT_EQ(init.producer_id, ProducerId(1000));
  EXPECT_EQ(init.epoch, ProducerEpoch(0));
  EXPECT_EQ(f.shard->AddPartitions("app", init.producer_id, init.epoch, {{"a", 0}, {"b", 1}}),
            ErrorCode::kNone);
  EXPECT_EQ(f.State("app"), TxnState::kOngoing);
  EXPECT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, true), ErrorCode::kNone);
  EXPECT_EQ(f.State("app"), TxnState::kPrepareCommit);
  ASSERT_EQ(f.markers.size(), 1u);
  EXPECT_TRUE(f.markers[0].commit);
  EXPECT_EQ(f.markers[0].coordinator_epoch, 7);
  EXPECT_EQ(f.markers[0].partitions.size(), 2u);
  // Meanwhile a new transaction must wait, and a retried EndTxn is told so.
  EXPECT_EQ(f.shard->AddPartitions("app", init.producer_id, init.epoch, {{"a", 0}}),
            ErrorCode::kConcurrentTransactions);
  EXPECT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, true),
            ErrorCode::kConcurrentTransactions);
  f.CompleteMarkers();
  EXPECT_EQ(f.State("app"), TxnState::kCompleteCommit);
  EXPECT_TRUE(f.shard->Find("app")->partitions.empty());
  // A retry of the finished commit is answered; an abort of it is not.
  EXPECT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, true), ErrorCode::kNone);
  EXPECT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, false),
            ErrorCode::kInvalidTxnState);
}

TEST(TxnShardTest, BadRequestsGetKafkasErrors) {
  TxnFixture f;
  EXPECT_EQ(f.Init("app", 0).error, ErrorCode::kInvalidTransactionTimeout);
  EXPECT_EQ(f.Init("app", 60001).error, ErrorCode::kInvalidTransactionTimeout);
  auto init = f.Init("app");
  // EndTxn without a transaction.
  EXPECT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, true),
            ErrorCode::kInvalidTxnState);
  EXPECT_EQ(f.shard->EndTxn("nobody", init.producer_id, init.epoch, true),
            ErrorCode::kInvalidProducerIdMapping);
  EXPECT_EQ(f.shard->AddPartitions("app", ProducerId(5), init.epoch, {{"a", 0}}),
            ErrorCode::kInvalidProducerIdMapping);
  EXPECT_EQ(f.shard->AddPartitions("app", init.producer_id, ProducerEpoch(3), {{"a", 0}}),
            ErrorCode::kProducerFenced);
  // A failed write changes nothing.
  f.next_append = absl::FailedPreconditionError("not the leader");
  EXPECT_EQ(f.shard->AddPartitions("app", init.producer_id, init.epoch, {{"a", 0}}),
            ErrorCode::kNotCoordinator);
  EXPECT_EQ(f.State("app"), TxnState::kEmpty);
}

TEST(TxnShardTest, ReinitialisingFencesTheOldProducerAndAbortsItsTransaction) {
  TxnFixture f;
  auto first = f.Init("app");
  ASSERT_EQ(f.shard->AddPartitions("app", first.producer_id, first.epoch, {{"a", 0}}),
            ErrorCode::kNone);
  // The new instance is told to retry while the old transaction is aborted.
  EXPECT_EQ(f.Init("app").error, ErrorCode::kConcurrentTransactions);
  ASSERT_EQ(f.markers.size(), 1u);
  EXPECT_FALSE(f.markers[0].commit);
  EXPECT_EQ(f.markers[0].epoch, ProducerEpoch(1));  // the markers fence epoch 0
  EXPECT_EQ(f.Init("app").error, ErrorCode::kConcurrentTransactions);
  f.CompleteMarkers();
  auto second = f.Init("app");
  ASSERT_EQ(second.error, ErrorCode::kNone);
  EXPECT_EQ(second.producer_id, first.producer_id);
  EXPECT_EQ(second.epoch, ProducerEpoch(2));
  // The zombie's requests are fenced.
  EXPECT_EQ(f.shard->EndTxn("app", first.producer_id, first.epoch, true),
            ErrorCode::kProducerFenced);
  // KIP-360: a producer naming an id and epoch that are not current is fenced.
  EXPECT_EQ(f.Init("app", 10000, first.producer_id, first.epoch).error, ErrorCode::kProducerFenced);
  auto third = f.Init("app", 10000, second.producer_id, second.epoch);
  EXPECT_EQ(third.epoch, ProducerEpoch(3));
}

TEST(TxnShardTest, TimedOutTransactionIsAbortedWithABumpedEpoch) {
  TxnFixture f;
  auto init = f.Init("slow", 5000);
  ASSERT_EQ(f.shard->AddPartitions("slow", init.producer_id, init.epoch, {{"a", 0}}),
            ErrorCode::kNone);
  f.clock.AdvanceMs(4999);
  f.shard->Tick();
  EXPECT_EQ(f.State("slow"), TxnState::kOngoing);
  f.clock.AdvanceMs(1);
  f.shard->Tick();
  EXPECT_EQ(f.State("slow"), TxnState::kPrepareAbort);
  ASSERT_EQ(f.markers.size(), 1u);
  EXPECT_FALSE(f.markers[0].commit);
  EXPECT_EQ(f.markers[0].epoch, ProducerEpoch(1));
  f.CompleteMarkers();
  EXPECT_EQ(f.State("slow"), TxnState::kCompleteAbort);
  EXPECT_EQ(f.shard->EndTxn("slow", init.producer_id, init.epoch, true),
            ErrorCode::kProducerFenced);
}

TEST(TxnShardTest, ReloadResumesMarkersOfPreparedTransactions) {
  TxnFixture f;
  auto init = f.Init("app");
  ASSERT_EQ(f.shard->AddPartitions("app", init.producer_id, init.epoch, {{"a", 0}}),
            ErrorCode::kNone);
  ASSERT_EQ(f.shard->EndTxn("app", init.producer_id, init.epoch, true), ErrorCode::kNone);
  f.markers.clear();
  f.pending_markers.clear();  // the coordinator stopped before the markers were written
  f.Reload();
  EXPECT_EQ(f.State("app"), TxnState::kPrepareCommit);
  ASSERT_EQ(f.markers.size(), 1u);
  EXPECT_TRUE(f.markers[0].commit);
  EXPECT_EQ(f.markers[0].partitions, (std::vector<std::pair<std::string, int32_t>>{{"a", 0}}));
  f.CompleteMarkers();
  EXPECT_EQ(f.State("app"), TxnState::kCompleteCommit);
  f.Reload();
  EXPECT_EQ(f.State("app"), TxnState::kCompleteCommit);
  EXPECT_EQ(f.shard->Find("app")->producer_id, init.producer_id);
}

TEST(TxnShardTest, IdleTransactionalIdsExpire) {
  TxnFixture f;
  f.Init("old");
  f.clock.AdvanceMs(3600000);
  f.Init("new");
  f.shard->Tick();
  EXPECT_EQ(f.shard->Find("old"), nullptr);
  EXPECT_NE(f.shard->Find("new"), nullptr);
  f.Reload();
  EXPECT_EQ(f.shard->Find("old"), nullptr);
}

}  // namespace
}  // namespace fjord::coordinator
