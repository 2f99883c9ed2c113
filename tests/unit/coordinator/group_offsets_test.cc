#include <gtest/gtest.h>

#include "fjord/coordinator/group_shard.h"
#include "fjord/protocol/record_batch_builder.h"
#include "group_shard_fixture.h"

namespace fjord::coordinator {
namespace {

using protocol::ErrorCode;
using test_support::Fixture;
using Item = GroupShard::CommitItem;

std::vector<Item> Items(std::vector<std::pair<int32_t, int64_t>> parts, std::string meta = "") {
  std::vector<Item> out;
  for (auto [p, o] : parts) {
    Item i;
    i.topic = "t";
    i.partition = p;
    i.offset.offset = Offset(o);
    i.offset.metadata = meta;
    out.push_back(i);
  }
  return out;
}

TEST(GroupShardTest, SimpleCommitCreatesTheGroupAndReplays) {
  Fixture f;
  auto items = Items({{0, 10}, {1, 20}});
  f.shard->Commit("g", -1, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kNone);
  EXPECT_EQ(items[1].error, ErrorCode::kNone);
  ASSERT_EQ(f.log.size(), 2u);
  const GroupShard::Group* g = f.shard->Find("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->offsets.at({"t", 1}).offset, Offset(20));
  EXPECT_EQ(g->offsets.at({"t", 1}).commit_ms, f.clock.NowMs());

  // A later commit overwrites; a replay of the log gives the same state.
  items = Items({{1, 25}});
  f.shard->Commit("g", -1, "", std::nullopt, items);
  std::unique_ptr<GroupShard> replayed = f.Reload();
  ASSERT_NE(replayed->Find("g"), nullptr);
  EXPECT_EQ(replayed->Find("g")->offsets, f.shard->Find("g")->offsets);
  EXPECT_EQ(replayed->Find("g")->offsets.at({"t", 1}).offset, Offset(25));
}

TEST(GroupShardTest, MemberCommitsToGroupsWithoutMembersAreRefused) {
  Fixture f;
  auto items = Items({{0, 1}});
  f.shard->Commit("nogroup", 3, "m-1", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kIllegalGeneration);
  EXPECT_EQ(f.shard->Find("nogroup"), nullptr);

  items = Items({{0, 1}});
  f.shard->Commit("g", -1, "", std::nullopt, items);
  items = Items({{0, 2}});
  f.shard->Commit("g", 1, "m-1", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kUnknownMemberId);
  items = Items({{0, 2}});
  f.shard->Commit("g", -1, "", std::string("instance"), items);
  EXPECT_EQ(items[0].error, ErrorCode::kUnknownMemberId);
  EXPECT_EQ(f.shard->Find("g")->offsets.at({"t", 0}).offset, Offset(1));
  EXPECT_EQ(f.log.size(), 1u);
}

TEST(GroupShardTest, OversizedMetadataAndPreSetErrorsSkipOnlyThosePartitions) {
  Fixture f;
  auto items = Items({{0, 1}, {1, 2}, {2, 3}}, "x");
  items[1].offset.metadata = std::string(11, 'm');
  items[2].error = ErrorCode::kUnknownTopicOrPartition;
  f.shard->Commit("g", -1, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kNone);
  EXPECT_EQ(items[1].error, ErrorCode::kOffsetMetadataTooLarge);
  EXPECT_EQ(items[2].error, ErrorCode::kUnknownTopicOrPartition);
  EXPECT_EQ(f.log.size(), 1u);
  EXPECT_EQ(f.shard->Find("g")->offsets.size(), 1u);
}

TEST(GroupShardTest, FailedAppendChangesNothing) {
  Fixture f;
  f.next_append = absl::FailedPreconditionError("not leader");
  auto items = Items({{0, 1}});
  f.shard->Commit("g", -1, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kNotCoordinator);
  EXPECT_EQ(f.shard->Find("g"), nullptr);
  f.next_append = absl::DataLossError("disk");
  items = Items({{0, 1}});
  f.shard->Commit("g", -1, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kCoordinatorNotAvailable);
}

TEST(GroupShardTest, TombstonesDeleteOffsetsAndGroups) {
  Fixture f;
  CommittedOffset o;
  o.offset = Offset(5);
  GroupRecord commit;
  commit.kind = GroupRecord::Kind::kOffsetCommit;
  commit.group = "g";
  commit.topic = "t";
  commit.offset = o;
  f.shard->Replay(commit);
  GroupRecord other = commit;
  other.partition = 1;
  f.shard->Replay(other);
  GroupRecord tomb = commit;
  tomb.offset.reset();
  f.shard->Replay(tomb);
  ASSERT_NE(f.shard->Find("g"), nullptr);
  EXPECT_EQ(f.shard->Find("g")->offsets.size(), 1u);
  GroupRecord group_tomb;
  group_tomb.kind = GroupRecord::Kind::kGroupMetadata;
  group_tomb.group = "g";
  f.shard->Replay(group_tomb);
  // As in Kafka, offsets outlive the group record: the group is back to a simple one.
  ASSERT_NE(f.shard->Find("g"), nullptr);
  EXPECT_EQ(f.shard->Find("g")->offsets.size(), 1u);
  EXPECT_EQ(f.shard->Find("g")->protocol_type, "");
  f.shard->Replay(tomb);
  GroupRecord other_tomb = other;
  other_tomb.offset.reset();
  f.shard->Replay(other_tomb);
  EXPECT_EQ(f.shard->Find("g"), nullptr);
}

TEST(GroupShardTest, DamagedGroupRecordsAreNotTrusted) {
  Fixture f;
  StoredGroup stored;
  stored.protocol_type = "consumer";
  stored.generation = 3;
  stored.protocol = "range";
  stored.leader = "ghost";  // not a member
  stored.members.push_back({"m1", std::nullopt, "c", "/h", 30000, 10000, {1}, {2}});
  GroupRecord r;
  r.kind = GroupRecord::Kind::kGroupMetadata;
  r.group = "g";
  r.metadata = stored;
  f.shard->Replay(r);
  f.shard->FinishLoad();
  ASSERT_TRUE(f.shard->Find("g")->leader.has_value());
  EXPECT_EQ(*f.shard->Find("g")->leader, "m1");
  EXPECT_EQ(f.shard->Heartbeat("g", "m1", std::nullopt, 3), ErrorCode::kNone);

  // Members without a selected protocol cannot have an assignment: taken as Empty.
  stored.protocol.reset();
  r.metadata = stored;
  f.shard->Replay(r);
  EXPECT_EQ(f.shard->Find("g")->state, GroupState::kEmpty);
  EXPECT_TRUE(f.shard->Find("g")->members.empty());
}

TEST(GroupShardTest, TransactionalOffsetsStayPendingUntilTheMarker) {
  Fixture f;
  const TxnProducer producer{ProducerId(42), ProducerEpoch(0)};
  // Kafka's checks: a member the group does not know, a generation it is not at.
  auto items = Items({{0, 5}});
  f.shard->TxnCommit("g", producer, -1, "ghost", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kUnknownMemberId);
  items = Items({{0, 5}});
  f.shard->TxnCommit("g", producer, 3, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kIllegalGeneration);

  items = Items({{0, 5}, {1, 6}});
  f.shard->TxnCommit("g", producer, -1, "", std::nullopt, items);
  EXPECT_EQ(items[0].error, ErrorCode::kNone);
  EXPECT_EQ(f.shard->Find("g"), nullptr);  // invisible until the commit marker
  EXPECT_TRUE(f.shard->HasPendingOffset("g", "t", 1));
  f.shard->CompleteTxn(producer.id, true);
  ASSERT_NE(f.shard->Find("g"), nullptr);
  EXPECT_EQ(f.shard->Find("g")->offsets.at({"t", 1}).offset, Offset(6));
  EXPECT_FALSE(f.shard->HasPendingOffset("g", "t", 1));

  // An aborted transaction's offsets are dropped.
  items = Items({{0, 9}});
  f.shard->TxnCommit("g", producer, -1, "", std::nullopt, items);
  f.shard->CompleteTxn(producer.id, false);
  EXPECT_EQ(f.shard->Find("g")->offsets.at({"t", 0}).offset, Offset(5));
}

TEST(GroupShardTest, ReplayedTransactionalBatchesWaitForTheirMarkers) {
  Fixture f;
  auto offsets = [&](int64_t pid, int64_t offset) {
    protocol::RecordBatchBuilder b;
    b.SetProducer(ProducerId(pid), ProducerEpoch(0), -1).SetTransactional(true);
    CommittedOffset o;
    o.offset = Offset(offset);
    KeyValue kv = OffsetCommitRecord("g", "t", 0, &o);
    b.Add(1, std::span<const uint8_t>(kv.key), std::span<const uint8_t>(*kv.value));
    return *std::move(b).Build();
  };
  auto marker = [](int64_t pid, bool commit) {
    return protocol::BuildControlBatch(
        Offset(0), ProducerId(pid), ProducerEpoch(0),
        {commit ? protocol::ControlRecordType::kCommit : protocol::ControlRecordType::kAbort, 0},
        1);
  };
  auto replay = [&](const std::vector<uint8_t>& batch) {
    protocol::RecordBatchIterator it(batch);
    ASSERT_TRUE(it.Next());
    ASSERT_TRUE(f.shard->ReplayBatch(it.batch()).ok());
  };
  replay(offsets(1, 10));
  replay(offsets(2, 20));
  EXPECT_EQ(f.shard->Find("g"), nullptr);
  replay(marker(1, true));
  EXPECT_EQ(f.shard->Find("g")->offsets.at({"t", 0}).offset, Offset(10));
  replay(marker(2, false));
  EXPECT_EQ(f.shard->Find("g")->offsets.at({"t", 0}).offset, Offset(10));
}

}  // namespace
}  // namespace fjord::coordinator
