// The consumer protocol and its assignors (pure), and GroupMember against a real `fjord`:
// a lone member gets every partition, a second member splits them after a rebalance the
// first notices through its heartbeats, commits land under the generation, and leaving
// hands the partitions back.
#include "fjord/client/group_member.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "broker_process.h"
#include "fjord/protocol/messages/consumer_protocol_subscription.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"

namespace fjord::client {
namespace {

using Plan = std::map<std::string, TopicPartitions>;

TEST(AssignorTest, RangeGivesContiguousRunsTheFirstMembersTakingTheRemainder) {
  auto plan = Assign(kRangeAssignor, {{"a", {"t", "u"}}, {"b", {"t", "u"}}, {"c", {"u"}}},
                     {{"t", 5}, {"u", 2}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(
      *plan,
      (Plan{{"a", {{"t", {0, 1, 2}}, {"u", {0}}}}, {"b", {{"t", {3, 4}}, {"u", {1}}}}, {"c", {}}}));
}

TEST(AssignorTest, RoundRobinSkipsMembersNotSubscribedToThePartitionsTopic) {
  auto plan = Assign(kRoundRobinAssignor, {{"a", {"t", "u"}}, {"b", {"t"}}, {"c", {"t", "u"}}},
                     {{"t", 3}, {"u", 2}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(*plan, (Plan{{"a", {{"t", {0}}, {"u", {0}}}},
                         {"b", {{"t", {1}}}},
                         {"c", {{"t", {2}}, {"u", {1}}}}}));
}

TEST(AssignorTest, TopicsWithoutMetadataAndUnknownAssignors) {
  auto plan = Assign(kRangeAssignor, {{"a", {"gone"}}}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan, (Plan{{"a", {}}}));
  EXPECT_EQ(Assign("sticky", {{"a", {"t"}}}, {{"t", 1}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsKnownAssignor("range"));
  EXPECT_FALSE(IsKnownAssignor("cooperative-sticky"));
}

TEST(ConsumerProtocolTest, RoundTripsAndReadsNewerVersions) {
  auto topics = DecodeSubscription(EncodeSubscription({"x", "y"}));
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_EQ(*topics, (std::vector<std::string>{"x", "y"}));
  auto a = DecodeAssignment(EncodeAssignment({{"x", {0, 2}}, {"y", {1}}}));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (TopicPartitions{{"x", {0, 2}}, {"y", {1}}}));

  // A subscription as a current Java consumer writes it (v3: owned partitions, rack).
  protocol::ConsumerProtocolSubscription s;
  s.topics = {"orders"};
  s.generation_id = 7;
  s.rack_id = "r1";
  std::vector<uint8_t> v3 = {0, 3};
  protocol::EncodeMessage(s, 3, &v3);
  topics = DecodeSubscription(v3);
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_EQ(*topics, (std::vector<std::string>{"orders"}));
  // v9 from a future client: read as far as v3 goes.
  v3[1] = 9;
  EXPECT_TRUE(DecodeSubscription(v3).ok());

  EXPECT_EQ(DecodeSubscription({}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeSubscription(std::vector<uint8_t>{0xff, 0xff, 0}).status().code(),
            absl::StatusCode::kDataLoss);
  std::vector<uint8_t> torn = EncodeSubscription({"orders"});
  torn.resize(torn.size() - 2);
  EXPECT_EQ(DecodeSubscription(torn).status().code(), absl::StatusCode::kDataLoss);
  // A member the leader gave nothing gets an empty assignment.
  auto none = DecodeAssignment({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

class GroupMemberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new testing::BrokerProcess(FJORD_BINARY, {"group.initial.rebalance.delay.ms=0"});
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(broker_->port(), 0) << "fjord did not start"; }

  static Options Opts() {
    Options o;
    o.bootstrap = {broker_->bootstrap()};
    o.request_timeout = std::chrono::milliseconds(10000);
    return o;
  }
  static GroupMemberOptions Member(const std::string& group) {
    GroupMemberOptions m;
    m.group = group;
    m.topics = {"members"};
    m.session_timeout = std::chrono::milliseconds(6000);
    m.rebalance_timeout = std::chrono::milliseconds(15000);
    m.heartbeat_interval = std::chrono::milliseconds(100);
    return m;
  }
  static void CreateTopic(Client& c) {
    protocol::CreateTopicsRequest req;
    protocol::CreateTopicsRequest::CreatableTopic t;
    t.name = "members";
    t.num_partitions = 4;
    t.replication_factor = 1;
    req.topics.push_back(t);
    auto resp = c.Call<protocol::CreateTopicsResponse>(Target::Controller(), req);
    ASSERT_TRUE(resp.ok()) << resp.status();
    const auto e = static_cast<protocol::ErrorCode>(resp->topics.at(0).error_code);
    ASSERT_TRUE(e == protocol::ErrorCode::kNone || e == protocol::ErrorCode::kTopicAlreadyExists);
  }
  // Waits (bounded) for a member's heartbeats to report a rebalance.
  static bool AwaitRebalance(const GroupMember& m) {
    for (int i = 0; i < 200 && !m.rebalance_needed(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m.rebalance_needed();
  }

  static testing::BrokerProcess* broker_;
};

testing::BrokerProcess* GroupMemberTest::broker_ = nullptr;

TEST_F(GroupMemberTest, JoinsSplitsOnRebalanceCommitsAndLeaves) {
  Client c(Opts());
  CreateTopic(c);
  GroupMember first(c, Member("g1"));
  auto alone = first.Join();
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(*alone, (TopicPartitions{{"members", {0, 1, 2, 3}}}));
  EXPECT_EQ(first.assignor(), "range");
  const int32_t gen1 = first.generation();
  EXPECT_FALSE(first.member_id().empty());
  ASSERT_TRUE(first.Commit({{"members", {{0, 5}, {3, 9}}}}).ok());

  // A second member (a consumer of its own, with its own connection: the broker holds its
  // JoinGroup until the first rejoins).
  Client c2(Opts());
  GroupMember second(c2, Member("g1"));
  auto pending = std::async(std::launch::async, [&] { return second.Join(); });
  ASSERT_TRUE(AwaitRebalance(first)) << "the first member's heartbeats never saw the rebalance";
  auto mine = first.Join();
  ASSERT_TRUE(mine.ok()) << mine.status();
  auto theirs = pending.get();
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_GT(first.generation(), gen1);
  EXPECT_EQ(first.generation(), second.generation());
  std::vector<int32_t> all = mine->at("members");
  ASSERT_EQ(mine->at("members").size(), 2u);
  ASSERT_EQ(theirs->at("members").size(), 2u);
  all.insert(all.end(), theirs->at("members").begin(), theirs->at("members").end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int32_t>{0, 1, 2, 3}));
  ASSERT_TRUE(second.Commit({{"members", {{theirs->at("members")[0], 11}}}}).ok());

  // The committed offsets are the group's.
  protocol::OffsetFetchRequest fetch;
  fetch.group_id = "g1";
  fetch.topics.emplace();
  protocol::OffsetFetchRequest::OffsetFetchRequestTopic ft;
  ft.name = "members";
  ft.partition_indexes = {PartitionId(0), PartitionId(3), PartitionId(theirs->at("members")[0])};
  fetch.topics->push_back(ft);
  auto committed = c.Call<protocol::OffsetFetchResponse>(Target::Group("g1"), fetch, nullptr, 7, 1);
  ASSERT_TRUE(committed.ok()) << committed.status();
  std::map<int32_t, int64_t> offsets;
  for (const auto& p : committed->topics.at(0).partitions) {
    offsets[p.partition_index.value] = p.committed_offset.value;
  }
  EXPECT_EQ(offsets[theirs->at("members")[0]], 11);
  if (theirs->at("members")[0] != 0) {
    EXPECT_EQ(offsets[0], 5);
  }

  // Leaving hands the partitions back to the member that stays.
  ASSERT_TRUE(second.Leave().ok());
  ASSERT_TRUE(AwaitRebalance(first));
  auto back = first.Join();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (TopicPartitions{{"members", {0, 1, 2, 3}}}));
  ASSERT_TRUE(first.Leave().ok());
}

TEST_F(GroupMemberTest, CommitsBeforeRejoiningCountAndStaleGenerationsAreRefused) {
  Client c(Opts());
  CreateTopic(c);
  GroupMember m(c, Member("g2"));
  ASSERT_TRUE(m.Join().ok());
  const int32_t old_generation = m.generation();
  Client c2(Opts());
  GroupMember other(c2, Member("g2"));
  auto pending = std::async(std::launch::async, [&] { return other.Join(); });
  ASSERT_TRUE(AwaitRebalance(m));
  // Eager rebalancing: what was consumed is committed before the partitions go.
  EXPECT_TRUE(m.Commit({{"members", {{0, 1}}}}).ok());
  ASSERT_TRUE(m.Join().ok());
  ASSERT_TRUE(pending.get().ok());

  // A commit under the generation that ended is refused, never applied to the new one.
  protocol::OffsetCommitRequest req;
  req.group_id = "g2";
  req.generation_id_or_member_epoch = old_generation;
  req.member_id = m.member_id();
  protocol::OffsetCommitRequest::OffsetCommitRequestTopic t;
  t.name = "members";
  protocol::OffsetCommitRequest::OffsetCommitRequestPartition cp;
  cp.partition_index = PartitionId(0);
  cp.committed_offset = Offset(2);
  t.partitions.push_back(cp);
  req.topics.push_back(t);
  auto resp = c.Call<protocol::OffsetCommitResponse>(Target::Group("g2"), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->topics.at(0).partitions.at(0).error_code,
            static_cast<int16_t>(protocol::ErrorCode::kIllegalGeneration));
  ASSERT_TRUE(other.Leave().ok());
  ASSERT_TRUE(m.Leave().ok());
}

}  // namespace
}  // namespace fjord::client
