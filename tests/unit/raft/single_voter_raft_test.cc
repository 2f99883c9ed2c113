#include <gtest/gtest.h>

#include <fstream>

#include "fjord/base/clock.h"
#include "fjord/raft/raft_client.h"
#include "fjord/storage/file_system.h"
#include "temp_dir.h"

namespace fjord::raft {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

class SingleVoterRaftTest : public ::testing::Test {
 protected:
  std::unique_ptr<SingleVoterRaft> Open() {
    SingleVoterRaft::Params p;
    p.fs = &storage::PosixFileSystem();
    p.clock = &SystemClock();
    p.metadata_log_dir = dir_.path();
    p.node_id = NodeId(1);
    absl::StatusOr<std::unique_ptr<SingleVoterRaft>> r = SingleVoterRaft::Open(p);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : nullptr;
  }

  std::vector<CommittedBatch> ReadAll(SingleVoterRaft& raft, Offset from = Offset(0)) {
    std::vector<CommittedBatch> out;
    absl::Status s = raft.ReadCommitted(from, [&](const CommittedBatch& b) {
      out.push_back(b);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::string StatePath() const { return dir_ / "__cluster_metadata-0/quorum-state"; }

  testing::TempDir dir_;
};

TEST_F(SingleVoterRaftTest, AppendsCommitAndReadBackInOrder) {
  auto raft = Open();
  ASSERT_NE(raft, nullptr);
  EXPECT_EQ(raft->HighWatermark(), Offset(0));
  EXPECT_EQ(raft->Leader(), NodeId(1));
  EXPECT_EQ(raft->Voters(), std::vector<NodeId>{NodeId(1)});
  EXPECT_EQ(raft->Epoch(), LeaderEpoch(1));

  absl::StatusOr<Offset> last = raft->AppendAndCommit({Bytes("a"), Bytes("b")});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, Offset(1));
  last = raft->AppendAndCommit({Bytes("c")});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, Offset(2));
  EXPECT_EQ(raft->HighWatermark(), Offset(3));

  std::vector<CommittedBatch> batches = ReadAll(*raft);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].base_offset, Offset(0));
  EXPECT_EQ(batches[0].last_offset, Offset(1));
  EXPECT_EQ(batches[0].epoch, LeaderEpoch(1));
  EXPECT_EQ(batches[0].records, (std::vector<std::vector<uint8_t>>{Bytes("a"), Bytes("b")}));
  EXPECT_EQ(batches[1].records, std::vector<std::vector<uint8_t>>{Bytes("c")});

  EXPECT_EQ(ReadAll(*raft, Offset(2)).size(), 1u);
  EXPECT_TRUE(ReadAll(*raft, Offset(3)).empty());
  EXPECT_FALSE(raft->AppendAndCommit({}).ok());
}

TEST_F(SingleVoterRaftTest, ReopenKeepsTheLogAndStartsANewEpoch) {
  {
    auto raft = Open();
    ASSERT_NE(raft, nullptr);
    ASSERT_TRUE(raft->AppendAndCommit({Bytes("one")}).ok());
    ASSERT_TRUE(raft->Close().ok());
  }
  {
    auto raft = Open();
    ASSERT_NE(raft, nullptr);
    EXPECT_EQ(raft->Epoch(), LeaderEpoch(2));
    EXPECT_EQ(raft->HighWatermark(), Offset(1));
    ASSERT_TRUE(raft->AppendAndCommit({Bytes("two")}).ok());
    std::vector<CommittedBatch> batches = ReadAll(*raft);
    ASSERT_EQ(batches.size(), 2u);
    EXPECT_EQ(batches[0].epoch, LeaderEpoch(1));
    EXPECT_EQ(batches[1].epoch, LeaderEpoch(2));
  }
  // Without a clean close (the destructor only), the committed batches are still there.
  auto raft = Open();
  ASSERT_NE(raft, nullptr);
  EXPECT_EQ(raft->Epoch(), LeaderEpoch(3));
  EXPECT_EQ(ReadAll(*raft).size(), 2u);
}

TEST_F(SingleVoterRaftTest, EpochNeverGoesBackWhenQuorumStateIsLost) {
  {
    auto raft = Open();
    ASSERT_NE(raft, nullptr);
    ASSERT_TRUE(raft->AppendAndCommit({Bytes("x")}).ok());
  }
  {
    auto raft = Open();  // epoch 2
    ASSERT_NE(raft, nullptr);
    ASSERT_TRUE(raft->AppendAndCommit({Bytes("y")}).ok());
  }
  std::filesystem::remove(StatePath());
  auto raft = Open();
  ASSERT_NE(raft, nullptr);
  EXPECT_EQ(raft->Epoch(), LeaderEpoch(3)) << "the log's latest epoch bounds it from below";
}

TEST_F(SingleVoterRaftTest, QuorumStateRoundTripsAndMalformedIsRefused) {
  storage::FileSystem& fs = storage::PosixFileSystem();
  const std::string path = dir_ / "quorum-state";
  absl::StatusOr<LeaderEpoch> e = ReadQuorumEpoch(fs, path);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, LeaderEpoch(-1));
  ASSERT_TRUE(WriteQuorumState(fs, path, NodeId(1), LeaderEpoch(42)).ok());
  e = ReadQuorumEpoch(fs, path);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, LeaderEpoch(42));

  for (std::string bad : {"", "garbage", "{\"leaderId\":1}", "{\"leaderEpoch\":\"x\"}",
                          "{\"leaderEpoch\":-7}", "{\"leaderEpoch\":99999999999}"}) {
    std::ofstream(path, std::ios::trunc) << bad;
    e = ReadQuorumEpoch(fs, path);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(std::string(e.status().message()).find(path), std::string::npos);
  }
  // Open refuses to start on a malformed quorum state instead of guessing an epoch.
  std::filesystem::create_directories(dir_ / "__cluster_metadata-0");
  std::ofstream(StatePath(), std::ios::trunc) << "not json";
  SingleVoterRaft::Params p;
  p.fs = &fs;
  p.clock = &SystemClock();
  p.metadata_log_dir = dir_.path();
  EXPECT_FALSE(SingleVoterRaft::Open(p).ok());
}

}  // namespace
}  // namespace fjord::raft
