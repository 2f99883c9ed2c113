// Segment: file naming, append and index placement, lookup, truncation, recovery results.
#include "fjord/storage/segment.h"

#include <gtest/gtest.h>

#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::MakeBatch;

// Builds batches with offsets from `next` and appends them as the Log would.
void AppendTo(Segment& seg, Offset* next, int records, size_t value_size, int64_t ts) {
  std::vector<uint8_t> b = MakeBatch(records, value_size, ts);
  ASSERT_TRUE(protocol::SetBaseOffset(b, *next).ok());
  LogAppendInfo info;
  info.first_offset = *next;
  info.last_offset = *next + (records - 1);
  ASSERT_TRUE(seg.Append(b, info).ok());
  *next = info.last_offset + 1;
}

TEST(Segment, FileNamesAreTwentyDigitBaseOffsets) {
  EXPECT_EQ(Segment::FileName(Offset(1200), ".log"), "00000000000000001200.log");
  EXPECT_EQ(Segment::FileName(Offset(INT64_MAX), ".index"), "09223372036854775807.index");
  EXPECT_EQ(Segment::ParseFileName("00000000000000001200.log", ".log"), Offset(1200));
  EXPECT_FALSE(Segment::ParseFileName("00000000000000001200.index", ".log"));
  EXPECT_FALSE(Segment::ParseFileName("0000000000000001200.log", ".log"));
  EXPECT_FALSE(Segment::ParseFileName("0000000000000000120x.log", ".log"));
  EXPECT_FALSE(Segment::ParseFileName("-0000000000000001200.log", ".log"));
}

TEST(Segment, IndexesAnEntryPerIntervalAndFindsEveryOffset) {
  TempDir dir;
  Segment::Options opt;
  opt.index_interval_bytes = 300;
  auto seg = Segment::Create(PosixFileSystem(), dir.path(), Offset(100), opt, 0);
  ASSERT_TRUE(seg.ok());
  Offset next(100);
  for (int i = 0; i < 20; ++i) AppendTo(**seg, &next, 2, 100, 1000 + i);
  EXPECT_EQ((*seg)->next_offset(), Offset(140));
  // ~290-byte batches: an entry every second batch after the first.
  EXPECT_GE((*seg)->offset_index().entries(), 8u);
  EXPECT_LE((*seg)->offset_index().entries(), 10u);
  for (int64_t o = 100; o < 140; ++o) {
    auto loc = (*seg)->FindBatch(Offset(o));
    ASSERT_TRUE(loc.ok() && loc->has_value());
    EXPECT_LE((*loc)->base_offset, Offset(o));
    EXPECT_GE((*loc)->last_offset, Offset(o));
  }
  EXPECT_FALSE((*seg)->FindBatch(Offset(140))->has_value());
  EXPECT_EQ((*seg)->max_timestamp(), 1020);  // the last batch's second record
  EXPECT_EQ((*seg)->offset_of_max_timestamp(), Offset(139));
}

TEST(Segment, OffsetsMustFitTheRelativeIndex) {
  TempDir dir;
  auto seg = Segment::Create(PosixFileSystem(), dir.path(), Offset(10), {}, 0);
  EXPECT_TRUE((*seg)->CanHoldOffset(Offset(10)));
  EXPECT_TRUE((*seg)->CanHoldOffset(Offset(int64_t{10} + INT32_MAX)));
  EXPECT_FALSE((*seg)->CanHoldOffset(Offset(int64_t{11} + INT32_MAX)));
  EXPECT_FALSE((*seg)->CanHoldOffset(Offset(9)));
}

TEST(Segment, TruncateToCutsAtTheBatchHoldingTheOffset) {
  TempDir dir;
  Segment::Options opt;
  opt.index_interval_bytes = 1;
  auto seg = Segment::Create(PosixFileSystem(), dir.path(), Offset(0), opt, 0);
  Offset next(0);
  for (int i = 0; i < 10; ++i) AppendTo(**seg, &next, 3, 10, 1000 + 10 * i);
  const uint64_t size = (*seg)->size();
  auto removed = (*seg)->TruncateTo(Offset(16));  // inside batch 15..17
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ((*seg)->next_offset(), Offset(15));
  EXPECT_EQ((*seg)->size() + *removed, size);
  EXPECT_EQ((*seg)->offset_index().last()->relative_offset, 14);
  EXPECT_EQ((*seg)->max_timestamp(), 1042);
  EXPECT_EQ(*(*seg)->TruncateTo(Offset(15)), 0u);
  next = Offset(15);
  AppendTo(**seg, &next, 1, 10, 5000);
  EXPECT_EQ((*seg)->next_offset(), Offset(16));
}

TEST(Segment, RecoverReportsWhereAndWhyItCut) {
  TempDir dir;
  uint64_t good = 0;
  {
    auto seg = Segment::Create(PosixFileSystem(), dir.path(), Offset(0), {}, 0);
    Offset next(0);
    for (int i = 0; i < 3; ++i) AppendTo(**seg, &next, 1, 10, 1000);
    good = (*seg)->size();
    // A batch whose offset goes backwards, well-formed otherwise.
    std::vector<uint8_t> b = MakeBatch(1, 10, 1000);
    ASSERT_TRUE(protocol::SetBaseOffset(b, Offset(1)).ok());
    ASSERT_TRUE((*seg)->log_file()->WriteAt(good, b).ok());
  }
  Segment::RecoveryResult result;
  auto seg = Segment::Open(PosixFileSystem(), dir.path(), Offset(0), {}, 0, true, &result);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ(result.valid_bytes, good);
  EXPECT_GT(result.truncated_bytes, 0u);
  EXPECT_NE(result.reason.find("below the expected 3"), std::string::npos) << result.reason;
  EXPECT_EQ((*seg)->next_offset(), Offset(3));
}

TEST(Segment, AddSuffixRenamesEveryFile) {
  TempDir dir;
  auto seg = Segment::Create(PosixFileSystem(), dir.path(), Offset(7), {}, 0);
  ASSERT_TRUE((*seg)->AddSuffix(".deleted").ok());
  for (const std::string& p : (*seg)->FilePaths()) {
    EXPECT_TRUE(PosixFileSystem().Exists(p)) << p;
    EXPECT_NE(p.find(".deleted"), std::string::npos);
  }
  EXPECT_FALSE(PosixFileSystem().Exists(dir / "00000000000000000007.log"));
}

}  // namespace
}  // namespace fjord::storage
