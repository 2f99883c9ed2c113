#include "fjord/storage/checkpoint_file.h"

#include <gtest/gtest.h>

#include <string>

#include "storage_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::storage::testing::WriteText;
using ::fjord::testing::TempDir;

TEST(OffsetCheckpoint, RoundTripsInKafkasTextFormat) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  OffsetCheckpoint cp = {{{"orders", PartitionId(0)}, Offset(1200)},
                         {{"orders", PartitionId(1)}, Offset(1180)}};
  ASSERT_TRUE(WriteOffsetCheckpoint(fs, dir / "recovery-point-offset-checkpoint", cp).ok());
  auto text = fs.ReadWholeFile(dir / "recovery-point-offset-checkpoint");
  EXPECT_EQ(std::string(text->begin(), text->end()), "0\n2\norders 0 1200\norders 1 1180\n");
  auto back = ReadOffsetCheckpoint(fs, dir / "recovery-point-offset-checkpoint");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, cp);
}

TEST(OffsetCheckpoint, MissingFileIsEmpty) {
  TempDir dir;
  auto cp = ReadOffsetCheckpoint(PosixFileSystem(), dir / "none");
  ASSERT_TRUE(cp.ok());
  EXPECT_TRUE(cp->empty());
}

TEST(OffsetCheckpoint, MalformedFilesAreDataLossNamingTheLine) {
  TempDir dir;
  const std::pair<std::string, std::string> cases[] = {
      {"", "missing version"},
      {"1\n0\n", "unknown version"},
      {"0\n", "missing entry count"},
      {"0\n2\nt 0 1\n", "count 2 but 1"},
      {"0\n1\nt x 1\n", ":3: malformed"},
      {"0\n1\nt 0\n", ":3: malformed"},
      {"0\n1\nt -1 5\n", ":3: malformed"},
      {"0\n1\nt 0 99999999999999999999\n", ":3: malformed"},
  };
  for (const auto& [text, why] : cases) {
    WriteText(dir / "cp", text);
    auto cp = ReadOffsetCheckpoint(PosixFileSystem(), dir / "cp");
    ASSERT_EQ(cp.status().code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(cp.status().message().find(why), std::string::npos) << cp.status().message();
  }
}

TEST(LeaderEpochCheckpoint, RoundTripsAndRejectsEpochsGoingBackwards) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  std::vector<EpochEntry> entries = {{LeaderEpoch(0), Offset(0)}, {LeaderEpoch(3), Offset(4711)}};
  ASSERT_TRUE(WriteLeaderEpochCheckpoint(fs, dir / "leader-epoch-checkpoint", entries).ok());
  EXPECT_EQ(*ReadLeaderEpochCheckpoint(fs, dir / "leader-epoch-checkpoint"), entries);

  WriteText(dir / "bad", "0\n2\n3 10\n2 20\n");
  EXPECT_EQ(ReadLeaderEpochCheckpoint(fs, dir / "bad").status().code(),
            absl::StatusCode::kDataLoss);
  WriteText(dir / "bad2", "0\n2\n3 10\n4 5\n");
  EXPECT_EQ(ReadLeaderEpochCheckpoint(fs, dir / "bad2").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace fjord::storage
