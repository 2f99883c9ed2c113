#include "fjord/storage/file_system.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fjord/storage/fault_injection_file_system.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using Bytes = std::vector<uint8_t>;

using ::fjord::testing::TempDir;

Bytes Fill(size_t n, uint8_t v) { return Bytes(n, v); }

TEST(PosixFileSystem, WriteReadTruncateAndSize) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  auto f = fs.Open(dir / "a", /*create=*/true);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->WriteAt(0, Fill(10, 1)).ok());
  ASSERT_TRUE((*f)->WriteAt(10, Fill(5, 2)).ok());
  EXPECT_EQ(*(*f)->Size(), 15u);
  Bytes out(20);
  EXPECT_EQ(*(*f)->ReadAt(8, out), 7u);  // short read at end of file
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[2], 2);
  ASSERT_TRUE((*f)->Truncate(4).ok());
  EXPECT_EQ(*(*f)->Size(), 4u);
  EXPECT_TRUE((*f)->Sync().ok());
  EXPECT_GE((*f)->NativeHandle(), 0);
}

TEST(PosixFileSystem, OpenMissingWithoutCreateIsNotFound) {
  TempDir dir;
  auto f = PosixFileSystem().Open(dir / "missing", /*create=*/false);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("missing"), std::string::npos);
}

TEST(PosixFileSystem, AtomicWriteReplacesContentAndLeavesNoTempFile) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  ASSERT_TRUE(fs.WriteFileAtomically(dir / "cp", Fill(3, 7)).ok());
  ASSERT_TRUE(fs.WriteFileAtomically(dir / "cp", Fill(2, 9)).ok());
  EXPECT_EQ(*fs.ReadWholeFile(dir / "cp"), Fill(2, 9));
  EXPECT_FALSE(fs.Exists(dir / "cp.tmp"));
}

TEST(PosixFileSystem, SecondLockOnADirectoryFailsClearly) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  auto first = fs.Lock(dir / ".lock");
  ASSERT_TRUE(first.ok());
  auto second = fs.Lock(dir / ".lock");
  ASSERT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("another fjord"), std::string::npos);
  first->reset();
  EXPECT_TRUE(fs.Lock(dir / ".lock").ok());
}

TEST(PosixFileSystem, ListAndRemove) {
  TempDir dir;
  FileSystem& fs = PosixFileSystem();
  ASSERT_TRUE(fs.CreateDirs(dir / "x/y").ok());
  ASSERT_TRUE(fs.Open(dir / "x/f", true).ok());
  auto names = fs.List(dir / "x");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
  ASSERT_TRUE(fs.Remove(dir / "x/f").ok());
  ASSERT_TRUE(fs.RemoveDirRecursive(dir / "x").ok());
  EXPECT_FALSE(fs.Exists(dir / "x"));
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
}

TEST(FaultInjectionFileSystem, CrashDropsEverythingAfterTheLastSync) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  {
    auto f = fs.Open(dir / "log", true);
    ASSERT_TRUE((*f)->WriteAt(0, Fill(100, 1)).ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->WriteAt(100, Fill(50, 2)).ok());
  }
  ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kDropUnsynced).ok());
  EXPECT_EQ(fs.ReadWholeFile(dir / "log")->size(), 100u);
}

TEST(FaultInjectionFileSystem, TornTailKeepsAPrefixOfTheUnsyncedPart) {
  TempDir dir;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    FaultInjectionFileSystem fs(PosixFileSystem(), seed);
    std::string path = dir / ("log" + std::to_string(seed));
    {
      auto f = fs.Open(path, true);
      ASSERT_TRUE((*f)->WriteAt(0, Fill(10, 1)).ok());
      ASSERT_TRUE((*f)->Sync().ok());
      ASSERT_TRUE((*f)->WriteAt(10, Fill(30, 2)).ok());
    }
    ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kTornTail).ok());
    Bytes data = *fs.ReadWholeFile(path);
    ASSERT_GE(data.size(), 10u);
    ASSERT_LE(data.size(), 40u);
    EXPECT_EQ(Bytes(data.begin(), data.begin() + 10), Fill(10, 1));
  }
}

TEST(FaultInjectionFileSystem, WriteBudgetGivesEnospcAndRecovers) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto f = fs.Open(dir / "log", true);
  fs.SetWriteBudget(8);
  absl::Status s = (*f)->WriteAt(0, Fill(10, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*(*f)->Size(), 8u);  // a real full disk writes a prefix too
  fs.ClearWriteBudget();
  EXPECT_TRUE((*f)->WriteAt(8, Fill(2, 1)).ok());
}

TEST(FaultInjectionFileSystem, ReadAndSyncErrorsAreDataLoss) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto f = fs.Open(dir / "log", true);
  ASSERT_TRUE((*f)->WriteAt(0, Fill(4, 1)).ok());
  fs.FailReads(true);
  Bytes out(4);
  EXPECT_EQ((*f)->ReadAt(0, out).status().code(), absl::StatusCode::kDataLoss);
  fs.FailReads(false);
  fs.FailSyncs(true);
  EXPECT_EQ((*f)->Sync().code(), absl::StatusCode::kDataLoss);
  fs.FailSyncs(false);
  // A failed sync made nothing durable.
  f->reset();
  ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kDropUnsynced).ok());
  EXPECT_EQ(fs.ReadWholeFile(dir / "log")->size(), 0u);
}

}  // namespace
}  // namespace fjord::storage
