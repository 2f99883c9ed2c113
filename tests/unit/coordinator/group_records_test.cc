#include "fjord/coordinator/group_records.h"

#include <gtest/gtest.h>

namespace fjord::coordinator {
namespace {

TEST(GroupRecordsTest, PartitionFollowsJavaStringHashCode) {
  // Java: "test".hashCode() == 3556498, "hello".hashCode() == 99162322.
  EXPECT_EQ(PartitionForGroup("test", 50), 3556498 % 50);
  EXPECT_EQ(PartitionForGroup("hello", 1000), 99162322 % 1000);
  EXPECT_EQ(PartitionForGroup("", 50), 0);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE, which Kafka's abs maps to 0.
  EXPECT_EQ(PartitionForGroup("polygenelubricants", 7), 0);
  // Non-ASCII ids hash over UTF-16 code units: U+00E9 is 233; U+1F600 is the surrogate
  // pair D83D DE00, 31 * 0xD83D + 0xDE00.
  EXPECT_EQ(PartitionForGroup("\xc3\xa9", 1000), 233);
  EXPECT_EQ(PartitionForGroup("\xf0\x9f\x98\x80", 10000000), 31 * 0xD83D + 0xDE00);
}

TEST(GroupRecordsTest, OffsetCommitRoundTrip) {
  CommittedOffset o{Offset(42), 3, "meta", 1'700'000'000'000, -1};
  KeyValue kv = OffsetCommitRecord("g", "t", 5, &o);
  ASSERT_TRUE(kv.value.has_value());
  // Kafka's layout: key version 1, then group, topic, partition.
  EXPECT_EQ(kv.key[0], 0);
  EXPECT_EQ(kv.key[1], 1);
  absl::StatusOr<GroupRecord> r = DecodeGroupRecord(kv.key, std::span<const uint8_t>(*kv.value));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, GroupRecord::Kind::kOffsetCommit);
  EXPECT_EQ(r->group, "g");
  EXPECT_EQ(r->topic, "t");
  EXPECT_EQ(r->partition, 5);
  ASSERT_TRUE(r->offset.has_value());
  EXPECT_EQ(*r->offset, o);

  KeyValue tomb = OffsetCommitRecord("g", "t", 5, nullptr);
  EXPECT_FALSE(tomb.value.has_value());
  r = DecodeGroupRecord(tomb.key, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->offset.has_value());
}

TEST(GroupRecordsTest, GroupMetadataRoundTrip) {
  StoredGroup g;
  g.protocol_type = "consumer";
  g.generation = 4;
  g.protocol = "range";
  g.leader = "m1";
  g.state_ms = 123;
  g.members.push_back({"m1", std::nullopt, "c1", "/127.0.0.1", 60000, 10000, {1, 2}, {3}});
  g.members.push_back({"m2", "instance-2", "c2", "/127.0.0.2", 30000, 6000, {4}, {}});
  KeyValue kv = GroupMetadataRecord("g", &g);
  EXPECT_EQ(kv.key[1], 2);
  absl::StatusOr<GroupRecord> r = DecodeGroupRecord(kv.key, std::span<const uint8_t>(*kv.value));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, GroupRecord::Kind::kGroupMetadata);
  ASSERT_TRUE(r->metadata.has_value());
  EXPECT_EQ(*r->metadata, g);

  KeyValue tomb = GroupMetadataRecord("g", nullptr);
  r = DecodeGroupRecord(tomb.key, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->metadata.has_value());
}

TEST(GroupRecordsTest, MalformedRecordsAreErrorsAndUnknownKindsAreSkipped) {
  const std::vector<uint8_t> empty;
  EXPECT_FALSE(DecodeGroupRecord(empty, std::nullopt).ok());
  const std::vector<uint8_t> truncated = {0, 1, 0, 5, 'g'};
  EXPECT_FALSE(DecodeGroupRecord(truncated, std::nullopt).ok());
  KeyValue kv = OffsetCommitRecord("g", "t", 0, nullptr);
  const std::vector<uint8_t> bad_value = {0, 99, 1, 2};
  EXPECT_FALSE(DecodeGroupRecord(kv.key, std::span<const uint8_t>(bad_value)).ok());
  const std::vector<uint8_t> newer = {0, 11, 1, 2, 3};
  absl::StatusOr<GroupRecord> r = DecodeGroupRecord(newer, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, GroupRecord::Kind::kUnknown);
}

}  // namespace
}  // namespace fjord::coordinator
