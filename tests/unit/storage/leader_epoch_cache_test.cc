#include "fjord/storage/leader_epoch_cache.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "fjord/storage/fault_injection_file_system.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {

void PrintTo(const EpochEntry& e, std::ostream* os) {
  *os << "{epoch " << e.epoch.value << ", start " << e.start_offset.value << "}";
}

namespace {

using ::fjord::storage::testing::WriteText;
using ::fjord::testing::TempDir;
using Entries = std::vector<EpochEntry>;

EpochEntry E(int32_t epoch, int64_t start) { return {LeaderEpoch(epoch), Offset(start)}; }

std::pair<LeaderEpoch, Offset> EO(int32_t epoch, int64_t offset) {
  return {LeaderEpoch(epoch), Offset(offset)};
}

std::unique_ptr<LeaderEpochCache> OpenCache(FileSystem& fs, const std::string& path) {
  auto cache = LeaderEpochCache::Open(fs, path);
  EXPECT_TRUE(cache.ok()) << cache.status();
  return cache.ok() ? std::move(*cache) : nullptr;
}

std::unique_ptr<LeaderEpochCache> OpenCache(const std::string& path) {
  return OpenCache(PosixFileSystem(), path);
}

// A cache at `path` holding `entries`, assigned in order.
std::unique_ptr<LeaderEpochCache> CacheWith(const std::string& path, const Entries& entries) {
  auto cache = OpenCache(path);
  for (const auto& e : entries) EXPECT_TRUE(cache->Assign(e.epoch, e.start_offset).ok());
  EXPECT_EQ(cache->entries(), entries);
  return cache;
}

std::string ReadText(const std::string& path) {
  auto data = PosixFileSystem().ReadWholeFile(path);
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? std::string(data->begin(), data->end()) : "";
}

Entries OnDisk(const std::string& path) {
  auto entries = ReadLeaderEpochCheckpoint(PosixFileSystem(), path);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : Entries{};
}

TEST(LeaderEpochCache, MissingCheckpointIsAnEmptyCache) {
  TempDir dir;
  auto cache = OpenCache(dir / LeaderEpochCache::kFileName);
  EXPECT_TRUE(cache->entries().empty());
  EXPECT_FALSE(cache->Latest().has_value());
  EXPECT_FALSE(cache->LatestEpoch().has_value());
  EXPECT_FALSE(cache->EpochForOffset(Offset(0)).has_value());
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(0), Offset(10)), EO(-1, -1));
  EXPECT_EQ(cache->path(), dir / "leader-epoch-checkpoint");
  EXPECT_FALSE(PosixFileSystem().Exists(cache->path()));  // nothing written until a change
}

TEST(LeaderEpochCache, AssignAppendsAndWritesTheCheckpointInKafkasFormat) {
  TempDir dir;
  auto cache = OpenCache(dir / LeaderEpochCache::kFileName);
  ASSERT_TRUE(cache->Assign(LeaderEpoch(0), Offset(0)).ok());
  ASSERT_TRUE(cache->Assign(LeaderEpoch(3), Offset(4711)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(0, 0), E(3, 4711)}));
  EXPECT_EQ(cache->Latest(), E(3, 4711));
  EXPECT_EQ(cache->LatestEpoch(), LeaderEpoch(3));
  EXPECT_EQ(ReadText(cache->path()), "0\n2\n0 0\n3 4711\n");
}

TEST(LeaderEpochCache, EntriesPersistAcrossReopen) {
  TempDir dir;
  const std::string path = dir / LeaderEpochCache::kFileName;
  CacheWith(path, {E(1, 0), E(2, 100), E(5, 250)});
  auto cache = OpenCache(path);
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 100), E(5, 250)}));
  ASSERT_TRUE(cache->Assign(LeaderEpoch(6), Offset(300)).ok());
  EXPECT_EQ(OpenCache(path)->entries(), (Entries{E(1, 0), E(2, 100), E(5, 250), E(6, 300)}));
}

TEST(LeaderEpochCache, AssignRejectsANegativeEpochOrOffset) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0)});
  EXPECT_EQ(cache->Assign(LeaderEpoch(-1), Offset(5)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Assign(LeaderEpoch(2), Offset(-1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0)}));
}

TEST(LeaderEpochCache, AssignOfTheLatestEpochAtOrAfterItsStartChangesNothing) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(2, 10)});
  // With the file gone, a write would show: none must happen.
  ASSERT_TRUE(PosixFileSystem().Remove(cache->path()).ok());
  ASSERT_TRUE(cache->Assign(LeaderEpoch(2), Offset(10)).ok());
  ASSERT_TRUE(cache->Assign(LeaderEpoch(2), Offset(50)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 10)}));
  EXPECT_FALSE(PosixFileSystem().Exists(cache->path()));
}

TEST(LeaderEpochCache, AssignOfTheLatestEpochBeforeItsStartMovesTheStartBack) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(2, 10), E(3, 20)});
  ASSERT_TRUE(cache->Assign(LeaderEpoch(3), Offset(15)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 10), E(3, 15)}));
  // Further back than the previous epoch's start: that epoch goes too.
  ASSERT_TRUE(cache->Assign(LeaderEpoch(3), Offset(10)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(3, 10)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(1, 0), E(3, 10)}));
}

TEST(LeaderEpochCache, AssignDropsEntriesWithAnEqualOrNewerEpoch) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(3, 10), E(5, 20)});
  ASSERT_TRUE(cache->Assign(LeaderEpoch(4), Offset(25)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(3, 10), E(4, 25)}));
  ASSERT_TRUE(cache->Assign(LeaderEpoch(3), Offset(30)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(3, 30)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(1, 0), E(3, 30)}));
}

TEST(LeaderEpochCache, AssignDropsEntriesStartingAtOrAfterTheNewStart) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(3, 10), E(5, 20)});
  ASSERT_TRUE(cache->Assign(LeaderEpoch(6), Offset(10)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(6, 10)}));
  ASSERT_TRUE(cache->Assign(LeaderEpoch(7), Offset(0)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(7, 0)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(7, 0)}));
}

TEST(LeaderEpochCache, EndOffsetForFollowsOffsetForLeaderEpoch) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20), E(7, 30)});
  const Offset leo(50);
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(-1), leo), EO(-1, -1));  // undefined epoch
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(7), leo), EO(7, 50));    // latest: the log end
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(4), leo), EO(4, 30));    // known: next start
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(5), leo), EO(4, 30));    // unknown: floor epoch
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(6), leo), EO(4, 30));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(3), leo), EO(2, 20));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(2), leo), EO(2, 20));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(1), leo), EO(1, 10));  // below all: first start
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(0), leo), EO(0, 10));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(8), leo), EO(-1, -1));  // above all
}

TEST(LeaderEpochCache, EndOffsetForTheOnlyEpochIsTheLogEnd) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(3, 5)});
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(3), Offset(9)), EO(3, 9));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(2), Offset(9)), EO(2, 5));
  EXPECT_EQ(cache->EndOffsetFor(LeaderEpoch(4), Offset(9)), EO(-1, -1));
}

TEST(LeaderEpochCache, EpochForOffsetFindsTheEpochWhoseRangeHoldsIt) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20), E(7, 30)});
  EXPECT_FALSE(cache->EpochForOffset(Offset(9)).has_value());
  EXPECT_EQ(cache->EpochForOffset(Offset(10)), LeaderEpoch(2));
  EXPECT_EQ(cache->EpochForOffset(Offset(19)), LeaderEpoch(2));
  EXPECT_EQ(cache->EpochForOffset(Offset(20)), LeaderEpoch(4));
  EXPECT_EQ(cache->EpochForOffset(Offset(30)), LeaderEpoch(7));
  EXPECT_EQ(cache->EpochForOffset(Offset(1000)), LeaderEpoch(7));
}

TEST(LeaderEpochCache, TruncateFromEndDropsEntriesStartingAtOrAfterTheEnd) {
  TempDir dir;
  auto cache =
      CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(2, 10), E(4, 20), E(7, 30)});
  ASSERT_TRUE(cache->TruncateFromEnd(Offset(25)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 10), E(4, 20)}));
  ASSERT_TRUE(cache->TruncateFromEnd(Offset(20)).ok());  // exactly the latest start: it goes
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 10)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(1, 0), E(2, 10)}));
  ASSERT_TRUE(cache->TruncateFromEnd(Offset(0)).ok());
  EXPECT_TRUE(cache->entries().empty());
  EXPECT_TRUE(OnDisk(cache->path()).empty());
}

TEST(LeaderEpochCache, TruncateFromEndAboveTheLatestStartOrNegativeChangesNothing) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(1, 0), E(2, 10)});
  ASSERT_TRUE(PosixFileSystem().Remove(cache->path()).ok());
  ASSERT_TRUE(cache->TruncateFromEnd(Offset(11)).ok());
  ASSERT_TRUE(cache->TruncateFromEnd(Offset(-1)).ok());  // no log end yet
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(2, 10)}));
  EXPECT_FALSE(PosixFileSystem().Exists(cache->path()));
}

TEST(LeaderEpochCache, TruncateFromStartMovesTheLastEpochBeforeTheStartUpToIt) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20), E(7, 30)});
  ASSERT_TRUE(cache->TruncateFromStart(Offset(25)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(4, 25), E(7, 30)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(4, 25), E(7, 30)}));
  ASSERT_TRUE(cache->TruncateFromStart(Offset(30)).ok());  // exactly a start: it stays
  EXPECT_EQ(cache->entries(), (Entries{E(7, 30)}));
  ASSERT_TRUE(cache->TruncateFromStart(Offset(100)).ok());  // past every start
  EXPECT_EQ(cache->entries(), (Entries{E(7, 100)}));
  EXPECT_EQ(OnDisk(cache->path()), (Entries{E(7, 100)}));
}

TEST(LeaderEpochCache, TruncateFromStartBeforeOrAtTheFirstStartChangesNothing) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20)});
  ASSERT_TRUE(PosixFileSystem().Remove(cache->path()).ok());
  ASSERT_TRUE(cache->TruncateFromStart(Offset(5)).ok());
  ASSERT_TRUE(cache->TruncateFromStart(Offset(10)).ok());
  EXPECT_EQ(cache->entries(), (Entries{E(2, 10), E(4, 20)}));
  EXPECT_FALSE(PosixFileSystem().Exists(cache->path()));
}

TEST(LeaderEpochCache, ClearDropsEveryEntryAndRewritesTheFile) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20)});
  ASSERT_TRUE(cache->Clear().ok());
  EXPECT_TRUE(cache->entries().empty());
  EXPECT_EQ(ReadText(cache->path()), "0\n0\n");
  EXPECT_TRUE(OpenCache(cache->path())->entries().empty());
  ASSERT_TRUE(cache->Assign(LeaderEpoch(1), Offset(0)).ok());  // any epoch is fine again
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0)}));
}

TEST(LeaderEpochCache, FlushRewritesTheCheckpoint) {
  TempDir dir;
  auto cache = CacheWith(dir / LeaderEpochCache::kFileName, {E(2, 10), E(4, 20)});
  ASSERT_TRUE(PosixFileSystem().Remove(cache->path()).ok());
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(ReadText(cache->path()), "0\n2\n2 10\n4 20\n");
}

TEST(LeaderEpochCache, MalformedCheckpointIsDataLoss) {
  TempDir dir;
  const std::string path = dir / LeaderEpochCache::kFileName;
  const std::pair<std::string, std::string> cases[] = {
      {"1\n0\n", "unknown version"},
      {"0\n2\n1 0\n", "count 2 but 1"},
      {"0\n1\n1\n", ":3: malformed"},
      {"0\n2\n3 10\n2 20\n", ":4: malformed"},  // epochs going backwards
      {"0\n2\n2 20\n3 10\n", ":4: malformed"},  // start offsets going backwards
      {"0\n1\n-1 0\n", ":3: negative"},
      {"0\n2\n1 0\n2 -5\n", ":4: malformed"},  // caught by the reader
      {"0\n1\n1 -5\n", ":3: negative"},
  };
  for (const auto& [text, why] : cases) {
    WriteText(path, text);
    auto cache = LeaderEpochCache::Open(PosixFileSystem(), path);
    ASSERT_EQ(cache.status().code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(cache.status().message().find(why), std::string::npos) << cache.status().message();
  }
}

TEST(LeaderEpochCache, OpenDropsAnEpochThatALaterOneStartsAtTheSameOffset) {
  TempDir dir;
  const std::string path = dir / LeaderEpochCache::kFileName;
  // Readable, but epoch 2 held no records: Assign would never have kept it.
  WriteText(path, "0\n3\n1 0\n2 5\n3 5\n");
  auto cache = OpenCache(path);
  EXPECT_EQ(cache->entries(), (Entries{E(1, 0), E(3, 5)}));
}

TEST(LeaderEpochCache, FailedCheckpointWriteLeavesTheCacheAsItWas) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  const std::string path = dir / LeaderEpochCache::kFileName;
  auto cache = OpenCache(fs, path);
  ASSERT_TRUE(cache->Assign(LeaderEpoch(1), Offset(0)).ok());
  ASSERT_TRUE(cache->Assign(LeaderEpoch(2), Offset(10)).ok());
  const Entries before = {E(1, 0), E(2, 10)};

  fs.FailSyncs(true);
  EXPECT_EQ(cache->Assign(LeaderEpoch(3), Offset(20)).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(cache->TruncateFromEnd(Offset(5)).ok());
  EXPECT_FALSE(cache->TruncateFromStart(Offset(5)).ok());
  EXPECT_FALSE(cache->Clear().ok());
  EXPECT_FALSE(cache->Flush().ok());
  EXPECT_EQ(cache->entries(), before);
  EXPECT_EQ(OnDisk(path), before);

  fs.FailSyncs(false);
  fs.SetWriteBudget(3);  // a full disk
  EXPECT_EQ(cache->Assign(LeaderEpoch(3), Offset(20)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(cache->entries(), before);
  EXPECT_EQ(OnDisk(path), before);

  // Once the disk recovers, the same call goes through.
  fs.ClearWriteBudget();
  ASSERT_TRUE(cache->Assign(LeaderEpoch(3), Offset(20)).ok());
  EXPECT_EQ(OnDisk(path), (Entries{E(1, 0), E(2, 10), E(3, 20)}));
}

TEST(LeaderEpochCache, ReadErrorOnOpenIsReturned) {
  TempDir dir;
  const std::string path = dir / LeaderEpochCache::kFileName;
  CacheWith(path, {E(1, 0)});
  FaultInjectionFileSystem fs(PosixFileSystem());
  fs.FailReads(true);
  EXPECT_FALSE(LeaderEpochCache::Open(fs, path).ok());
  fs.FailReads(false);
  EXPECT_EQ(OpenCache(fs, path)->entries(), (Entries{E(1, 0)}));
}

}  // namespace
}  // namespace fjord::storage
