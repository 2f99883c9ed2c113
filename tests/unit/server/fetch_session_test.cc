#include "fjord/server/fetch_session.h"

#include <gtest/gtest.h>

namespace fjord::server {
namespace {

using protocol::ErrorCode;
using Kind = FetchContext::Kind;
using Wanted = std::vector<std::pair<SessionKey, PartitionFetch>>;

SessionKey Key(const std::string& topic, int32_t p) { return SessionKey{{}, topic, p}; }

Wanted Parts(const std::string& topic, int32_t n, int64_t offset = 0) {
  Wanted w;
  for (int32_t p = 0; p < n; ++p) w.emplace_back(Key(topic, p), PartitionFetch{Offset(offset)});
  return w;
}

std::vector<PartitionOutcome> Quiet(size_t n, int64_t hw) {
  return std::vector<PartitionOutcome>(n, PartitionOutcome{false, false, Offset(hw), Offset(0)});
}

// Opens a session with a full fetch of `n` partitions of `topic`; returns its id.
int32_t Open(FetchSessionCache& cache, const std::string& topic, int32_t n,
             bool privileged = false) {
  FetchContext ctx =
      cache.NewContext({0, FetchMetadata::kInitialEpoch}, false, privileged, Parts(topic, n), {});
  EXPECT_EQ(ctx.kind(), Kind::kFull);
  std::vector<size_t> include;
  return ctx.Complete(Quiet(n, 0), &include);
}

FetchContext Incremental(FetchSessionCache& cache, int32_t id, int32_t epoch, Wanted w = {},
                         std::vector<SessionKey> forget = {}) {
  return cache.NewContext({id, epoch}, false, false, std::move(w), forget);
}

TEST(FetchSessionTest, FinalEpochIsSessionlessAndAnswersEverything) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  FetchContext ctx =
      cache.NewContext({0, FetchMetadata::kFinalEpoch}, false, false, Parts("t", 3), {});
  EXPECT_EQ(ctx.kind(), Kind::kSessionless);
  std::vector<size_t> include;
  EXPECT_EQ(ctx.Complete(Quiet(3, 5), &include), 0);
  EXPECT_EQ(include, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(cache.sessions(), 0u);
}

TEST(FetchSessionTest, IncrementalAnswersOnlyWhatChanged) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  const int32_t id = Open(cache, "t", 3);
  ASSERT_NE(id, 0);
  EXPECT_EQ(cache.sessions(), 1u);
  EXPECT_EQ(cache.partitions(), 3u);

  // Nothing moved: the session reads all three and answers none.
  FetchContext ctx = Incremental(cache, id, 1);
  ASSERT_EQ(ctx.kind(), Kind::kIncremental);
  ASSERT_EQ(ctx.partitions().size(), 3u);
  std::vector<size_t> include;
  EXPECT_EQ(ctx.Complete(Quiet(3, 0), &include), id);
  EXPECT_TRUE(include.empty());

  // Partition 1 got records: only it is answered, and it moves to the back.
  ctx = Incremental(cache, id, 2);
  auto outcomes = Quiet(3, 0);
  outcomes[1] = PartitionOutcome{true, false, Offset(4), Offset(0)};
  ctx.Complete(outcomes, &include);
  EXPECT_EQ(include, (std::vector<size_t>{1}));
  ctx = Incremental(cache, id, 3, {{Key("t", 1), PartitionFetch{Offset(4)}}});
  ASSERT_EQ(ctx.partitions().size(), 3u);
  EXPECT_EQ(ctx.partitions()[2].first, Key("t", 1));
  EXPECT_EQ(ctx.partitions()[2].second.fetch_offset, Offset(4));
  EXPECT_EQ(ctx.partitions()[0].second.fetch_offset, Offset(0));

  // The same watermark again is not news; a log start move or an error is.
  outcomes = Quiet(3, 0);
  outcomes[2].high_watermark = Offset(4);
  outcomes[0].log_start_offset = Offset(1);
  ctx.Complete(outcomes, &include);
  EXPECT_EQ(include, (std::vector<size_t>{0}));
  ctx = Incremental(cache, id, 4);
  outcomes = Quiet(3, 0);
  outcomes[0].log_start_offset = Offset(1);
  outcomes[2].high_watermark = Offset(4);
  outcomes[1].error = true;
  ctx.Complete(outcomes, &include);
  EXPECT_EQ(include, (std::vector<size_t>{1}));
  // After an error the partition is answered again even with the old watermark.
  ctx = Incremental(cache, id, 5);
  outcomes[1].error = false;
  ctx.Complete(outcomes, &include);
  EXPECT_EQ(include, (std::vector<size_t>{1}));
}

TEST(FetchSessionTest, EpochAndIdErrors) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  const int32_t id = Open(cache, "t", 1);
  EXPECT_EQ(Incremental(cache, id, 2).error(), ErrorCode::kInvalidFetchSessionEpoch);
  EXPECT_EQ(Incremental(cache, id + 1, 1).error(), ErrorCode::kFetchSessionIdNotFound);
  // Switching between names and topic ids inside one session is refused.
  FetchContext ctx = cache.NewContext({id, 1}, true, false, {}, {});
  EXPECT_EQ(ctx.kind(), Kind::kError);
  EXPECT_EQ(ctx.error(), ErrorCode::kFetchSessionTopicIdError);
  // A refused request does not use up the epoch.
  EXPECT_EQ(Incremental(cache, id, 1).kind(), Kind::kIncremental);
}

TEST(FetchSessionTest, FullRequestClosesTheSessionItNames) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  const int32_t id = Open(cache, "t", 2);
  FetchContext ctx =
      cache.NewContext({id, FetchMetadata::kFinalEpoch}, false, false, Parts("t", 2), {});
  EXPECT_EQ(ctx.kind(), Kind::kSessionless);
  EXPECT_EQ(cache.sessions(), 0u);
  EXPECT_EQ(Incremental(cache, id, 1).error(), ErrorCode::kFetchSessionIdNotFound);
}

TEST(FetchSessionTest, ForgettingEveryPartitionEndsTheSession) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  const int32_t id = Open(cache, "t", 2);
  FetchContext ctx = Incremental(cache, id, 1, {}, {Key("t", 0)});
  ASSERT_EQ(ctx.kind(), Kind::kIncremental);
  EXPECT_EQ(ctx.partitions().size(), 1u);
  EXPECT_EQ(cache.partitions(), 1u);
  std::vector<size_t> include;
  ctx.Complete(Quiet(1, 0), &include);
  ctx = Incremental(cache, id, 2, {}, {Key("t", 1)});
  EXPECT_EQ(ctx.kind(), Kind::kSessionless);
  EXPECT_EQ(ctx.Complete({}, &include), 0);
  EXPECT_EQ(cache.sessions(), 0u);
  EXPECT_EQ(cache.partitions(), 0u);
}

TEST(FetchSessionTest, EpochsFollowOneAnother) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  const int32_t id = Open(cache, "t", 1);
  std::vector<size_t> include;
  // A client cannot skip ahead; each accepted request moves the epoch on by one.
  EXPECT_EQ(Incremental(cache, id, INT32_MAX).error(), ErrorCode::kInvalidFetchSessionEpoch);
  for (int32_t e = 1; e <= 3; ++e) {
    FetchContext ctx = Incremental(cache, id, e);
    ASSERT_EQ(ctx.kind(), Kind::kIncremental) << e;
    ctx.Complete(Quiet(1, 0), &include);
  }
}

TEST(FetchSessionTest, FullCacheRefusesNewConsumerSessionsUntilOldOnesGoStale) {
  ManualClock clock;
  FetchSessionCache cache(2, clock);
  const int32_t a = Open(cache, "a", 1);
  const int32_t b = Open(cache, "b", 1);
  ASSERT_NE(a, 0);
  ASSERT_NE(b, 0);
  EXPECT_EQ(Open(cache, "c", 5), 0);  // both are in use and young
  EXPECT_EQ(cache.sessions(), 2u);

  // `a` stays in use; `b` goes unused past the eviction time and makes room.
  clock.AdvanceMs(FetchSessionCache::kEvictionMs / 2);
  std::vector<size_t> include;
  Incremental(cache, a, 1).Complete(Quiet(1, 0), &include);
  clock.AdvanceMs(FetchSessionCache::kEvictionMs / 2 + 1);
  const int32_t c = Open(cache, "c", 1);
  EXPECT_NE(c, 0);
  EXPECT_EQ(Incremental(cache, b, 1).error(), ErrorCode::kFetchSessionIdNotFound);
  EXPECT_EQ(Incremental(cache, a, 2).kind(), Kind::kIncremental);
}

TEST(FetchSessionTest, OldSessionsGiveWayToLargerOnes) {
  ManualClock clock;
  FetchSessionCache cache(2, clock);
  const int32_t small = Open(cache, "a", 1);
  const int32_t big = Open(cache, "b", 4);
  // Both older than the eviction time but recently used.
  clock.AdvanceMs(FetchSessionCache::kEvictionMs + 1);
  std::vector<size_t> include;
  Incremental(cache, small, 1).Complete(Quiet(1, 0), &include);
  Incremental(cache, big, 1).Complete(Quiet(4, 0), &include);
  // A new two-partition session evicts the smallest old one, never the larger one.
  EXPECT_NE(Open(cache, "c", 2), 0);
  EXPECT_EQ(Incremental(cache, small, 2).error(), ErrorCode::kFetchSessionIdNotFound);
  EXPECT_EQ(Incremental(cache, big, 2).kind(), Kind::kIncremental);
}

TEST(FetchSessionTest, FollowersEvictYoungConsumerSessions) {
  ManualClock clock;
  FetchSessionCache cache(1, clock);
  const int32_t consumer = Open(cache, "a", 10);
  const int32_t follower = Open(cache, "b", 1, /*privileged=*/true);
  EXPECT_NE(follower, 0);
  EXPECT_EQ(Incremental(cache, consumer, 1).error(), ErrorCode::kFetchSessionIdNotFound);
  // A consumer cannot push out a young follower session.
  EXPECT_EQ(Open(cache, "c", 100), 0);
}

TEST(FetchSessionTest, ZeroSlotsMeansNoSessions) {
  ManualClock clock;
  FetchSessionCache cache(0, clock);
  EXPECT_EQ(Open(cache, "t", 1), 0);
  EXPECT_EQ(cache.sessions(), 0u);
}

TEST(FetchSessionTest, TopicIdSessionsKeyByIdOnly) {
  ManualClock clock;
  FetchSessionCache cache(10, clock);
  protocol::Uuid id1;
  id1.bytes[0] = 1;
  Wanted w{{SessionKey{id1, {}, 0}, PartitionFetch{Offset(3)}}};
  FetchContext ctx =
      cache.NewContext({0, FetchMetadata::kInitialEpoch}, true, false, std::move(w), {});
  std::vector<size_t> include;
  const int32_t id = ctx.Complete(Quiet(1, 3), &include);
  ASSERT_NE(id, 0);
  ctx = cache.NewContext({id, 1}, true, false, {}, {});
  ASSERT_EQ(ctx.kind(), Kind::kIncremental);
  EXPECT_EQ(ctx.partitions()[0].first.topic_id, id1);
  EXPECT_EQ(ctx.partitions()[0].second.fetch_offset, Offset(3));
}

}  // namespace
}  // namespace fjord::server
