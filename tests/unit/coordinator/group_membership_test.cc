// The classic group protocol on one shard, with simulated time: joins and the initial
// rebalance delay, KIP-394 member ids, leader election and assignment, heartbeats and
// session expiry, leaving, static members, protocol checks, commits by members, sync
// deadlines, and the group coming back after a reload.

#include <gtest/gtest.h>

#include "fjord/coordinator/group_shard.h"
#include "fjord/protocol/messages/consumer_protocol_subscription.h"
#include "fjord/protocol/wire.h"
#include "group_shard_fixture.h"

namespace fjord::coordinator {
namespace {

using protocol::ErrorCode;
using test_support::Fixture;
using Result = std::shared_ptr<std::optional<JoinResult>>;
using SyncOut = std::shared_ptr<std::optional<SyncResult>>;

constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 30000;

std::vector<MemberProtocol> Range(uint8_t tag = 1) { return {{"range", {tag}}}; }

struct JoinArgs {
  std::string member_id = "";
  std::string client = "c";
  std::optional<std::string> instance = std::nullopt;
  std::vector<MemberProtocol> protocols = Range();
  std::string type = "consumer";
  int32_t session = kSession;
  bool skip_assignment = false;
};

Result Join(Fixture& f, JoinArgs a) {
  GroupShard::JoinRequest req;
  req.group_id = "g";
  req.member_id = a.member_id;
  req.instance_id = a.instance;
  req.client_id = a.client;
  req.client_host = "/127.0.0.1";
  req.protocol_type = a.type;
  req.protocols = a.protocols;
  req.session_timeout_ms = a.session;
  req.rebalance_timeout_ms = kRebalance;
  req.require_known_member_id = true;
  req.supports_skip_assignment = a.skip_assignment;
  auto out = std::make_shared<std::optional<JoinResult>>();
  f.shard->Join(std::move(req), [out](JoinResult r) { *out = std::move(r); });
  return out;
}

// A dynamic member's first join: MEMBER_ID_REQUIRED, then the JoinGroup with that id,
// which waits for the rebalance. Returns the id and the pending result.
std::pair<std::string, Result> JoinNew(Fixture& f, const std::string& client,
                                       std::vector<MemberProtocol> protocols = Range()) {
  Result first = Join(f, {.client = client, .protocols = protocols});
  EXPECT_TRUE(first->has_value());
  EXPECT_EQ((*first)->error, ErrorCode::kMemberIdRequired);
  const std::string id = (*first)->member_id;
  EXPECT_EQ(id.rfind(client + "-", 0), 0u) << id;
  return {id, Join(f, {.member_id = id, .client = client, .protocols = protocols})};
}

SyncOut Sync(Fixture& f, const std::string& member, int32_t generation,
             std::vector<std::pair<std::string, std::vector<uint8_t>>> assignments = {},
             std::optional<std::string> protocol_name = std::nullopt,
             std::optional<std::string> instance = std::nullopt) {
  GroupShard::SyncRequest req;
  req.group_id = "g";
  req.member_id = member;
  req.instance_id = instance;
  req.generation = generation;
  req.protocol_type = "consumer";
  req.protocol_name = protocol_name;
  req.assignments = std::move(assignments);
  auto out = std::make_shared<std::optional<SyncResult>>();
  f.shard->Sync(std::move(req), [out](SyncResult r) { *out = std::move(r); });
  return out;
}

GroupState State(const Fixture& f) { return f.shard->Find("g")->state; }

// Forms a Stable group of `n` dynamic members, each assigned {i}. Returns the ids in
// join order (the first is the leader) and the generation.
std::pair<std::vector<std::string>, int32_t> FormGroup(Fixture& f, int n) {
  std::vector<std::string> ids;
  std::vector<Result> results;
  for (int i = 0; i < n; ++i) {
    auto [id, r] = JoinNew(f, "c" + std::to_string(i));
    ids.push_back(id);
    results.push_back(r);
  }
  f.Advance(6000);  // the initial delay, extended once for late arrivals
  for (const Result& r : results) {
    EXPECT_TRUE(r->has_value());
    if (!r->has_value()) return {ids, -1};
  }
  const int32_t gen = (*results[0])->generation;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> assignment;
  for (int i = 0; i < n; ++i) assignment.emplace_back(ids[i], std::vector<uint8_t>{uint8_t(i)});
  std::vector<SyncOut> syncs;
  for (int i = 1; i < n; ++i) syncs.push_back(Sync(f, ids[i], gen));
  syncs.push_back(Sync(f, ids[0], gen, assignment));
  for (const SyncOut& s : syncs) {
    EXPECT_TRUE(s->has_value());
    if (s->has_value()) {
      EXPECT_EQ((*s)->error, ErrorCode::kNone);
    }
  }
  EXPECT_EQ(State(f), GroupState::kStable);
  return {ids, gen};
}

TEST(GroupMembershipTest, FirstRebalanceWaitsTheInitialDelayAndElectsTheFirstMemberLeader) {
  Fixture f;
  auto [id1, j1] = JoinNew(f, "c1");
  EXPECT_FALSE(j1->has_value());
  EXPECT_EQ(State(f), GroupState::kPreparingRebalance);
  f.Advance(1000);
  auto [id2, j2] = JoinNew(f, "c2");
  // At 3 s a member arrived during the delay, so the group waits one more delay.
  f.Advance(2000);
  EXPECT_FALSE(j1->has_value());
  f.Advance(3000);
  ASSERT_TRUE(j1->has_value());
  ASSERT_TRUE(j2->has_value());
  EXPECT_EQ((*j1)->error, ErrorCode::kNone);
  EXPECT_EQ((*j1)->generation, 1);
  EXPECT_EQ((*j1)->protocol_name, "range");
  EXPECT_EQ((*j1)->leader, id1);
  EXPECT_EQ((*j2)->leader, id1);
  EXPECT_EQ((*j1)->members.size(), 2u);  // only the leader sees the members
  EXPECT_TRUE((*j2)->members.empty());
  EXPECT_EQ(State(f), GroupState::kCompletingRebalance);

  // The follower's SyncGroup waits for the leader's assignment.
  SyncOut s2 = Sync(f, id2, 1);
  EXPECT_FALSE(s2->has_value());
  SyncOut s1 = Sync(f, id1, 1, {{id1, {0xA}}, {id2, {0xB}}}, "range");
  ASSERT_TRUE(s1->has_value());
  ASSERT_TRUE(s2->has_value());
  EXPECT_EQ((*s1)->assignment, std::vector<uint8_t>{0xA});
  EXPECT_EQ((*s2)->assignment, std::vector<uint8_t>{0xB});
  EXPECT_EQ((*s2)->protocol_name, "range");
  EXPECT_EQ(State(f), GroupState::kStable);
  // A SyncGroup in the Stable group hands out the stored assignment again.
  SyncOut again = Sync(f, id2, 1);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->assignment, std::vector<uint8_t>{0xB});
}

TEST(GroupMembershipTest, PendingMemberIdsExpireAndUnknownIdsAreRefused) {
  Fixture f;
  Result first = Join(f, {.client = "c"});
  ASSERT_EQ((*first)->error, ErrorCode::kMemberIdRequired);
  EXPECT_EQ(f.shard->Find("g")->pending_members.size(), 1u);
  f.Advance(kSession + 1);
  EXPECT_TRUE(f.shard->Find("g")->pending_members.empty());
  Result late = Join(f, {.member_id = (*first)->member_id});
  EXPECT_EQ((*late)->error, ErrorCode::kUnknownMemberId);
  Result other = Join(f, {.member_id = "made-up"});
  EXPECT_EQ((*other)->error, ErrorCode::kUnknownMemberId);
}

TEST(GroupMembershipTest, HeartbeatsAndSessionExpiry) {
  Fixture f;
  auto [ids, gen] = FormGroup(f, 2);
  EXPECT_EQ(f.shard->Heartbeat("g", ids[0], std::nullopt, gen), ErrorCode::kNone);
  EXPECT_EQ(f.shard->Heartbeat("g", "nobody", std::nullopt, gen), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(f.shard->Heartbeat("g", ids[0], std::nullopt, gen + 1), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(f.shard->Heartbeat("other", ids[0], std::nullopt, gen), ErrorCode::kUnknownMemberId);

  // Only the first member keeps heart-beating; the second expires after its session.
  f.Advance(kSession / 2);
  EXPECT_EQ(f.shard->Heartbeat("g", ids[0], std::nullopt, gen), ErrorCode::kNone);
  f.Advance(kSession / 2 + 1);
  EXPECT_FALSE(f.shard->Find("g")->HasMember(ids[1]));
  EXPECT_EQ(State(f), GroupState::kPreparingRebalance);
  EXPECT_EQ(f.shard->Heartbeat("g", ids[0], std::nullopt, gen), ErrorCode::kRebalanceInProgress);
  // The survivor rejoins and the rebalance completes at once: everyone has joined.
  Result r = Join(f, {.member_id = ids[0], .client = "c0"});
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->generation, gen + 1);
  EXPECT_EQ((*r)->members.size(), 1u);
}

TEST(GroupMembershipTest, LeavingTriggersARebalanceAndTheLastOneLeavesTheGroupEmpty) {
  Fixture f;
  auto [ids, gen] = FormGroup(f, 2);
  std::vector<GroupShard::LeaveItem> leave = {{ids[1], std::nullopt}, {"nobody", std::nullopt}};
  EXPECT_EQ(f.shard->Leave("g", leave, "test"), ErrorCode::kNone);
  EXPECT_EQ(leave[0].error, ErrorCode::kNone);
  EXPECT_EQ(leave[1].error, ErrorCode::kUnknownMemberId);
  EXPECT_EQ(State(f), GroupState::kPreparingRebalance);
  Result r = Join(f, {.member_id = ids[0], .client = "c0"});
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->generation, gen + 1);
  ASSERT_TRUE(Sync(f, ids[0], gen + 1, {{ids[0], {1}}})->has_value());

  std::vector<GroupShard::LeaveItem> last = {{ids[0], std::nullopt}};
  EXPECT_EQ(f.shard->Leave("g", last, ""), ErrorCode::kNone);
  EXPECT_EQ(State(f), GroupState::kEmpty);
  EXPECT_EQ(f.shard->Find("g")->generation, gen + 2);
  // The empty generation is stored, so a restart does not bring the members back.
  auto reloaded = f.Reload();
  ASSERT_NE(reloaded->Find("g"), nullptr);
  EXPECT_EQ(reloaded->Find("g")->state, GroupState::kEmpty);
  EXPECT_EQ(reloaded->Find("g")->generation, gen + 2);
  EXPECT_TRUE(reloaded->Find("g")->members.empty());
}

TEST(GroupMembershipTest, StaticMemberRestartKeepsTheGenerationAndFencesTheOldId) {
  Fixture f;
  Result j = Join(f, {.client = "c", .instance = "instance-1"});
  EXPECT_FALSE(j->has_value());  // static members skip MEMBER_ID_REQUIRED
  f.Advance(3000);
  ASSERT_TRUE(j->has_value());
  const std::string old_id = (*j)->member_id;
  EXPECT_EQ(old_id.rfind("instance-1-", 0), 0u);
  const int32_t gen = (*j)->generation;
  ASSERT_TRUE(Sync(f, old_id, gen, {{old_id, {7}}}, std::nullopt, "instance-1")->has_value());
  ASSERT_EQ(State(f), GroupState::kStable);

  // The instance comes back with no member id: a new id, no rebalance.
  Result back = Join(f, {.client = "c", .instance = "instance-1", .skip_assignment = true});
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->error, ErrorCode::kNone);
  const std::string new_id = (*back)->member_id;
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ((*back)->generation, gen);
  EXPECT_EQ((*back)->leader, new_id);
  EXPECT_TRUE((*back)->skip_assignment);  // KIP-814: the leader keeps the assignment
  EXPECT_EQ(State(f), GroupState::kStable);
  EXPECT_EQ(f.shard->Heartbeat("g", old_id, std::string("instance-1"), gen),
            ErrorCode::kFencedInstanceId);
  EXPECT_EQ(f.shard->Heartbeat("g", new_id, std::string("instance-1"), gen), ErrorCode::kNone);
  SyncOut s = Sync(f, new_id, gen, {}, std::nullopt, "instance-1");
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->assignment, std::vector<uint8_t>{7});

  // The new id was stored: it is the member after a reload.
  auto reloaded = f.Reload();
  const GroupShard::Group* g = reloaded->Find("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->state, GroupState::kStable);
  ASSERT_NE(g->StaticMemberId("instance-1"), nullptr);
  EXPECT_EQ(*g->StaticMemberId("instance-1"), new_id);

  // An administrator removes the instance by its id alone.
  std::vector<GroupShard::LeaveItem> leave = {{"", std::string("instance-1")}};
  EXPECT_EQ(f.shard->Leave("g", leave, ""), ErrorCode::kNone);
  EXPECT_EQ(leave[0].error, ErrorCode::kNone);
  EXPECT_EQ(State(f), GroupState::kEmpty);
}

TEST(GroupMembershipTest, ProtocolSessionAndSizeChecks) {
  Fixture f;
  Result bad = Join(f, {.client = "c", .session = 1000});
  EXPECT_EQ((*bad)->error, ErrorCode::kInvalidSessionTimeout);
  Result none = Join(f, {.client = "c", .protocols = {}});
  EXPECT_EQ((*none)->error, ErrorCode::kInconsistentGroupProtocol);

  auto [ids, gen] = FormGroup(f, 1);
  Result other_type = Join(f, {.client = "x", .type = "connect"});
  EXPECT_EQ((*other_type)->error, ErrorCode::kInconsistentGroupProtocol);
  Result no_common = Join(f, {.client = "x", .protocols = {{"roundrobin", {}}}});
  EXPECT_EQ((*no_common)->error, ErrorCode::kInconsistentGroupProtocol);

  SyncOut wrong_name = Sync(f, ids[0], gen, {}, std::string("roundrobin"));
  EXPECT_EQ((*wrong_name)->error, ErrorCode::kInconsistentGroupProtocol);
  SyncOut wrong_gen = Sync(f, ids[0], gen + 5);
  EXPECT_EQ((*wrong_gen)->error, ErrorCode::kIllegalGeneration);

  // group.max.size is checked before anything else about the joining member.
  GroupConfig config = test_support::TestConfig();
  config.max_size = 1;
  Fixture small(config);
  FormGroup(small, 1);
  Result too_many = Join(small, {.client = "x"});
  EXPECT_EQ((*too_many)->error, ErrorCode::kGroupMaxSizeReached);
}

TEST(GroupMembershipTest, ProtocolSelectionTakesTheMostPreferredCommonProtocol) {
  Fixture f;
  auto [a, ja] = JoinNew(f, "a", {{"cooperative-sticky", {}}, {"range", {}}});
  auto [b, jb] = JoinNew(f, "b", {{"range", {}}, {"cooperative-sticky", {}}});
  auto [c, jc] = JoinNew(f, "c", {{"cooperative-sticky", {}}, {"range", {}}});
  f.Advance(6000);
  ASSERT_TRUE(ja->has_value());
  EXPECT_EQ((*ja)->protocol_name, "cooperative-sticky");
}

TEST(GroupMembershipTest, CommitsFromMembersFollowTheGeneration) {
  Fixture f;
  auto [ids, gen] = FormGroup(f, 1);
  auto commit = [&](int32_t generation, const std::string& member) {
    std::vector<GroupShard::CommitItem> items(1);
    items[0].topic = "t";
    items[0].offset.offset = Offset(5);
    f.shard->Commit("g", generation, member, std::nullopt, items);
    return items[0].error;
  };
  EXPECT_EQ(commit(gen, ids[0]), ErrorCode::kNone);
  EXPECT_EQ(commit(gen - 1, ids[0]), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(commit(gen, "nobody"), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(commit(-1, ""), ErrorCode::kUnknownMemberId);  // not while it has members
  // A second member joins: during CompletingRebalance commits wait for the assignment.
  auto [id2, j2] = JoinNew(f, "c9");
  Result rejoin = Join(f, {.member_id = ids[0], .client = "c0"});
  ASSERT_TRUE(rejoin->has_value());
  EXPECT_EQ(State(f), GroupState::kCompletingRebalance);
  EXPECT_EQ(commit(gen + 1, ids[0]), ErrorCode::kRebalanceInProgress);
}

TEST(GroupMembershipTest, MembersThatNeverSyncAreRemoved) {
  Fixture f;
  auto [id1, j1] = JoinNew(f, "c1");
  auto [id2, j2] = JoinNew(f, "c2");
  f.Advance(6000);
  ASSERT_TRUE(j1->has_value());
  const int32_t gen = (*j1)->generation;
  ASSERT_TRUE(Sync(f, id1, gen, {{id1, {1}}, {id2, {2}}})->has_value());
  EXPECT_EQ(State(f), GroupState::kStable);
  // id2 heart-beats but never syncs: it is dropped at the rebalance timeout.
  for (int i = 0; i < 5; ++i) {
    f.Advance(kRebalance / 5 - 1);
    f.shard->Heartbeat("g", id1, std::nullopt, gen);
    f.shard->Heartbeat("g", id2, std::nullopt, gen);
  }
  f.Advance(10);
  EXPECT_FALSE(f.shard->Find("g")->HasMember(id2));
  EXPECT_EQ(State(f), GroupState::kPreparingRebalance);
}

TEST(GroupMembershipTest, ReloadedGroupIsStableAndExpiresSilentMembers) {
  Fixture f;
  auto [ids, gen] = FormGroup(f, 2);
  f.shard.reset();  // the coordinator moves away; its timers stop
  auto reloaded = f.Reload();
  const GroupShard::Group* g = reloaded->Find("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->state, GroupState::kStable);
  EXPECT_EQ(g->generation, gen);
  EXPECT_EQ(g->members.size(), 2u);
  EXPECT_EQ(g->members.at(ids[1]).assignment, std::vector<uint8_t>{1});
  EXPECT_EQ(reloaded->Heartbeat("g", ids[1], std::nullopt, gen), ErrorCode::kNone);

  // With real timers: nobody heart-beats after the load, so both expire.
  f.shard = std::make_unique<GroupShard>(
      f.clock, [](const std::vector<KeyValue>&, const TxnProducer*) { return absl::OkStatus(); },
      [&f](int64_t delay, std::function<void()> task) {
        auto t = std::make_shared<test_support::FakeTimer>();
        f.timers.push_back({f.clock.NowMs() + delay, t, std::move(task)});
        return t;
      },
      test_support::TestConfig());
  for (const KeyValue& kv : f.log) {
    std::optional<std::span<const uint8_t>> value;
    if (kv.value) value = std::span<const uint8_t>(*kv.value);
    f.shard->Replay(*DecodeGroupRecord(kv.key, value));
  }
  f.shard->FinishLoad();
  f.Advance(kSession + 1);
  EXPECT_TRUE(f.shard->Find("g")->members.empty());
  EXPECT_EQ(State(f), GroupState::kEmpty);
}

std::vector<uint8_t> Subscription(const std::vector<std::string>& topics) {
  protocol::ConsumerProtocolSubscription s;
  s.topics = topics;
  std::vector<uint8_t> out = {0, 1};
  protocol::EncodeMessage(s, 1, &out);
  return out;
}

TEST(GroupMembershipTest, OffsetDeleteAndDeleteGroupRespectMembers) {
  Fixture f;
  auto [id, j] = JoinNew(f, "c1", {{"range", Subscription({"t"})}});
  f.Advance(3000);
  ASSERT_TRUE(j->has_value());
  const int32_t gen = (*j)->generation;
  ASSERT_TRUE(Sync(f, id, gen, {{id, {}}})->has_value());
  std::vector<GroupShard::CommitItem> items(2);
  items[0].topic = "t";
  items[1].topic = "u";
  f.shard->Commit("g", gen, id, std::nullopt, items);
  ASSERT_EQ(f.shard->Find("g")->offsets.size(), 2u);

  std::vector<GroupShard::DeleteItem> del = {{"t", 0}, {"u", 0}};
  EXPECT_EQ(f.shard->DeleteOffsets("g", del), ErrorCode::kNone);
  EXPECT_EQ(del[0].error, ErrorCode::kGroupSubscribedToTopic);
  EXPECT_EQ(del[1].error, ErrorCode::kNone);
  EXPECT_EQ(f.shard->Find("g")->offsets.size(), 1u);
  EXPECT_EQ(f.shard->DeleteGroup("g"), ErrorCode::kNonEmptyGroup);
  EXPECT_EQ(f.shard->DeleteGroup("nope"), ErrorCode::kGroupIdNotFound);

  std::vector<GroupShard::LeaveItem> leave = {{id, std::nullopt}};
  f.shard->Leave("g", leave, "");
  EXPECT_EQ(f.shard->DeleteGroup("g"), ErrorCode::kNone);
  EXPECT_EQ(f.shard->Find("g"), nullptr);
  EXPECT_EQ(f.Reload()->Find("g"), nullptr);
}

TEST(GroupMembershipTest, OffsetsOfEmptyGroupsExpireAfterTheRetention) {
  GroupConfig config = test_support::TestConfig();
  config.offsets_retention_ms = 60'000;
  Fixture f(config);
  std::vector<GroupShard::CommitItem> items(1);
  items[0].topic = "t";
  f.shard->Commit("g", -1, "", std::nullopt, items);
  f.Advance(59'999);
  EXPECT_EQ(f.shard->ExpireOffsets(), 0u);
  f.Advance(1);
  EXPECT_EQ(f.shard->ExpireOffsets(), 1u);
  EXPECT_EQ(f.shard->Find("g"), nullptr);
  EXPECT_EQ(f.Reload()->Find("g"), nullptr);

  // A group with members keeps its offsets however old; once Empty they age from then.
  auto [ids, gen] = FormGroup(f, 1);
  items[0].error = ErrorCode::kNone;
  f.shard->Commit("g", gen, ids[0], std::nullopt, items);
  ASSERT_EQ(items[0].error, ErrorCode::kNone);
  for (int i = 0; i < 10; ++i) {
    f.Advance(kSession - 1);
    f.shard->Heartbeat("g", ids[0], std::nullopt, gen);
  }
  EXPECT_EQ(f.shard->ExpireOffsets(), 0u);
  std::vector<GroupShard::LeaveItem> leave = {{ids[0], std::nullopt}};
  f.shard->Leave("g", leave, "");
  f.Advance(30'000);
  EXPECT_EQ(f.shard->ExpireOffsets(), 0u);
  f.Advance(30'000);
  EXPECT_EQ(f.shard->ExpireOffsets(), 1u);
  EXPECT_EQ(f.shard->Find("g"), nullptr);
}

TEST(GroupMembershipTest, DeletedTopicDropsItsOffsetsAndRebalancesItsSubscribers) {
  Fixture f;
  auto [id, j] = JoinNew(f, "c1", {{"range", Subscription({"keep", "gone"})}});
  f.Advance(3000);
  ASSERT_TRUE(j->has_value());
  const int32_t gen = (*j)->generation;
  ASSERT_TRUE(Sync(f, id, gen, {{id, {}}})->has_value());
  ASSERT_EQ(State(f), GroupState::kStable);
  std::vector<GroupShard::CommitItem> items(3);
  items[0].topic = "keep";
  items[1].topic = "gone";
  items[2].topic = "gone";
  items[2].partition = 1;
  f.shard->Commit("g", gen, id, std::nullopt, items);
  ASSERT_EQ(f.shard->Find("g")->offsets.size(), 3u);
  // A group without members that committed only to the deleted topic.
  std::vector<GroupShard::CommitItem> simple(1);
  simple[0].topic = "gone";
  f.shard->Commit("simple", -1, "", std::nullopt, simple);
  ASSERT_NE(f.shard->Find("simple"), nullptr);

  // A topic nobody subscribes to changes nothing.
  EXPECT_EQ(f.shard->OnTopicsDeleted({"other"}), 0u);
  EXPECT_EQ(State(f), GroupState::kStable);

  EXPECT_EQ(f.shard->OnTopicsDeleted({"gone"}), 3u);
  EXPECT_EQ(State(f), GroupState::kPreparingRebalance);
  const auto& offsets = f.shard->Find("g")->offsets;
  ASSERT_EQ(offsets.size(), 1u);
  EXPECT_TRUE(offsets.contains({"keep", 0}));
  EXPECT_EQ(f.shard->Find("simple"), nullptr);

  // The member rejoins; the tombstones hold across a reload.
  Result again =
      Join(f, {.member_id = id, .client = "c1", .protocols = {{"range", Subscription({"keep"})}}});
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->generation, gen + 1);
  std::unique_ptr<GroupShard> reloaded = f.Reload();
  ASSERT_NE(reloaded->Find("g"), nullptr);
  EXPECT_EQ(reloaded->Find("g")->offsets.size(), 1u);
  EXPECT_EQ(reloaded->Find("simple"), nullptr);
}

}  // namespace
}  // namespace fjord::coordinator
