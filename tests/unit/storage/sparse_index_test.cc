#include "fjord/storage/sparse_index.h"

#include <gtest/gtest.h>

#include <vector>

#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;

std::unique_ptr<OffsetIndex> OpenOffsetIndex(const std::string& path, size_t max_bytes = 1 << 20) {
  auto index = OffsetIndex::Open(PosixFileSystem(), path, max_bytes);
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(*index);
}

TEST(OffsetIndex, EmptyIndexFindsNothing) {
  TempDir dir;
  auto index = OpenOffsetIndex(dir / "0.index");
  EXPECT_EQ(index->entries(), 0u);
  EXPECT_FALSE(index->last().has_value());
  EXPECT_FALSE(index->Lookup(100)->has_value());
}

TEST(OffsetIndex, LookupReturnsTheLastEntryAtOrBelowTheTarget) {
  TempDir dir;
  auto index = OpenOffsetIndex(dir / "0.index");
  // More than twice the warm section, so lookups hit the file and the memory tail.
  const int n = static_cast<int>(3 * OffsetIndex::kWarmEntries);
  for (int i = 0; i < n; ++i) ASSERT_TRUE(index->Append({i * 10, i * 4096}).ok());
  EXPECT_FALSE(index->Lookup(-1)->has_value());
  for (int target : {0, 5, 10, 11, 1000, 1279, 1280, 2550, (n - 1) * 10, n * 10 + 5}) {
    auto e = index->Lookup(target);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(e->has_value()) << target;
    int expect = std::min(target / 10, n - 1);
    EXPECT_EQ((*e)->relative_offset, expect * 10) << target;
    EXPECT_EQ((*e)->position, expect * 4096) << target;
  }
}

TEST(OffsetIndex, ReopenSeesTheSameEntries) {
  TempDir dir;
  {
    auto index = OpenOffsetIndex(dir / "0.index");
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(index->Append({i * 2, i * 100}).ok());
  }
  auto index = OpenOffsetIndex(dir / "0.index");
  EXPECT_EQ(index->entries(), 500u);
  EXPECT_EQ((*index->Lookup(3))->relative_offset, 2);
  EXPECT_EQ(index->last()->relative_offset, 998);
}

TEST(OffsetIndex, FullIndexRefusesMoreEntries) {
  TempDir dir;
  auto index = OpenOffsetIndex(dir / "0.index", 3 * OffsetIndexEntry::kSize);
  ASSERT_TRUE(index->Append({1, 1}).ok());
  ASSERT_TRUE(index->Append({2, 2}).ok());
  EXPECT_FALSE(index->full());
  ASSERT_TRUE(index->Append({3, 3}).ok());
  EXPECT_TRUE(index->full());
  EXPECT_EQ(index->Append({4, 4}).code(), absl::StatusCode::kResourceExhausted);
}

TEST(OffsetIndex, KeysMustNotGoBackwards) {
  TempDir dir;
  auto index = OpenOffsetIndex(dir / "0.index");
  ASSERT_TRUE(index->Append({10, 1}).ok());
  EXPECT_EQ(index->Append({9, 2}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->Append({10, 3}).ok());  // same key: kept the first
  EXPECT_EQ(index->entries(), 1u);
}

TEST(OffsetIndex, TruncateFromDropsEntriesAtAndAboveTheKey) {
  TempDir dir;
  auto index = OpenOffsetIndex(dir / "0.index");
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(index->Append({i * 10, i}).ok());
  ASSERT_TRUE(index->TruncateFrom(1005).ok());
  EXPECT_EQ(index->entries(), 101u);
  EXPECT_EQ(index->last()->relative_offset, 1000);
  ASSERT_TRUE(index->TruncateFrom(1000).ok());
  EXPECT_EQ(index->last()->relative_offset, 990);
  ASSERT_TRUE(index->Append({995, 7}).ok());
  ASSERT_TRUE(index->TruncateFrom(0).ok());
  EXPECT_EQ(index->entries(), 0u);
}

TEST(OffsetIndex, TornFileIsDataLoss) {
  TempDir dir;
  {
    auto index = OpenOffsetIndex(dir / "0.index");
    ASSERT_TRUE(index->Append({1, 1}).ok());
  }
  auto f = PosixFileSystem().Open(dir / "0.index", false);
  ASSERT_TRUE((*f)->Truncate(5).ok());
  auto index = OffsetIndex::Open(PosixFileSystem(), dir / "0.index", 1 << 20);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
}

TEST(OffsetIndex, OutOfOrderFileIsDataLoss) {
  TempDir dir;
  std::vector<uint8_t> bytes(16);
  OffsetIndexEntry{5, 0}.Encode(bytes.data());
  OffsetIndexEntry{3, 0}.Encode(bytes.data() + 8);
  ASSERT_TRUE(PosixFileSystem().WriteFileAtomically(dir / "0.index", bytes).ok());
  EXPECT_EQ(OffsetIndex::Open(PosixFileSystem(), dir / "0.index", 1 << 20).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(TimeIndex, CeilingFindsTheFirstOffsetAtOrAfterATimestamp) {
  TempDir dir;
  auto index = *TimeIndex::Open(PosixFileSystem(), dir / "0.timeindex", 1 << 20);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(index->Append({1000 + i * 100, i * 7}).ok());
  auto e = index->LookupCeiling(1050);
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->timestamp, 1100);
  EXPECT_EQ((*e)->relative_offset, 7);
  EXPECT_EQ((*index->LookupCeiling(0))->timestamp, 1000);
  EXPECT_FALSE(index->LookupCeiling(1000 + 300 * 100)->has_value());
  EXPECT_EQ((*index->Lookup(1050))->timestamp, 1000);
}

TEST(TimeIndex, EntriesRoundTripBigEndian) {
  uint8_t buf[TimeIndexEntry::kSize];
  TimeIndexEntry e{0x0102030405060708, 0x0A0B0C0D};
  e.Encode(buf);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[8], 0x0A);
  EXPECT_EQ(TimeIndexEntry::Decode(buf), e);
}

}  // namespace
}  // namespace fjord::storage
