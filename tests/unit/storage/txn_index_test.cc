#include "fjord/storage/txn_index.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "fjord/base/endian.h"
#include "fjord/storage/fault_injection_file_system.h"
#include "temp_dir.h"

namespace fjord::storage {

void PrintTo(const AbortedTxn& t, std::ostream* os) {
  *os << "{pid " << t.producer_id.value << ", first " << t.first_offset.value << ", last "
      << t.last_offset.value << ", lso " << t.last_stable_offset.value << "}";
}

namespace {

using ::fjord::testing::TempDir;

AbortedTxn Txn(int64_t pid, int64_t first, int64_t last, int64_t lso) {
  return {ProducerId(pid), Offset(first), Offset(last), Offset(lso)};
}

std::unique_ptr<TxnIndex> OpenIndex(FileSystem& fs, const std::string& path) {
  auto index = TxnIndex::Open(fs, path);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? std::move(*index) : nullptr;
}

std::unique_ptr<TxnIndex> OpenIndex(const std::string& path) {
  return OpenIndex(PosixFileSystem(), path);
}

// One entry in the on-disk layout, with a chosen version.
std::vector<uint8_t> RawEntry(int16_t version, const AbortedTxn& t) {
  std::vector<uint8_t> b(TxnIndex::kEntrySize);
  be::Store16(b.data(), static_cast<uint16_t>(version));
  be::Store64(b.data() + 2, static_cast<uint64_t>(t.producer_id.value));
  be::Store64(b.data() + 10, static_cast<uint64_t>(t.first_offset.value));
  be::Store64(b.data() + 18, static_cast<uint64_t>(t.last_offset.value));
  be::Store64(b.data() + 26, static_cast<uint64_t>(t.last_stable_offset.value));
  return b;
}

void WriteRaw(const std::string& path, const std::vector<std::vector<uint8_t>>& entries) {
  std::vector<uint8_t> bytes;
  for (const auto& e : entries) bytes.insert(bytes.end(), e.begin(), e.end());
  ASSERT_TRUE(PosixFileSystem().WriteFileAtomically(path, bytes).ok());
}

uint64_t FileSize(const std::string& path) {
  auto f = PosixFileSystem().Open(path, /*create=*/false);
  EXPECT_TRUE(f.ok()) << f.status();
  return *(*f)->Size();
}

TEST(TxnIndex, NewIndexIsCreatedEmpty) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  EXPECT_TRUE(PosixFileSystem().Exists(dir / "0.txnindex"));
  EXPECT_EQ(index->entries(), 0u);
  EXPECT_EQ(index->size_bytes(), 0u);
  EXPECT_FALSE(index->last_offset().has_value());
  EXPECT_EQ(index->path(), dir / "0.txnindex");
  EXPECT_TRUE(index->AllAbortedTxns()->empty());
  auto r = index->CollectAbortedTxns(Offset(0), Offset(100));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->aborted.empty());
  EXPECT_FALSE(r->complete);
}

TEST(TxnIndex, EntryIsWrittenInKafkasBigEndianLayout) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  AbortedTxn t =
      Txn(0x0102030405060708, 0x1112131415161718, 0x2122232425262728, 0x3132333435363738);
  ASSERT_TRUE(index->Append(t).ok());
  EXPECT_EQ(index->size_bytes(), TxnIndex::kEntrySize);
  auto bytes = PosixFileSystem().ReadWholeFile(dir / "0.txnindex");
  ASSERT_TRUE(bytes.ok());
  const std::vector<uint8_t> expect = {
      0x00, 0x00,                                      // version
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // producer id
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,  // first offset
      0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,  // last offset
      0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,  // last stable offset
  };
  EXPECT_EQ(*bytes, expect);
  EXPECT_EQ(*index->AllAbortedTxns(), std::vector<AbortedTxn>{t});
}

TEST(TxnIndex, ReopenSeesTheSameEntries) {
  TempDir dir;
  std::vector<AbortedTxn> written;
  {
    auto index = OpenIndex(dir / "0.txnindex");
    // More than one read chunk, so scans cross chunk boundaries.
    for (int i = 0; i < 150; ++i) {
      written.push_back(Txn(1000 + i, i * 10, i * 10 + 5, i * 10));
      ASSERT_TRUE(index->Append(written.back()).ok());
    }
    ASSERT_TRUE(index->Sync().ok());
  }
  auto index = OpenIndex(dir / "0.txnindex");
  EXPECT_EQ(index->entries(), 150u);
  EXPECT_EQ(index->size_bytes(), 150u * TxnIndex::kEntrySize);
  EXPECT_EQ(index->last_offset(), Offset(1495));
  EXPECT_EQ(*index->AllAbortedTxns(), written);
  // The reopened index still refuses to go backwards and accepts what comes next.
  EXPECT_EQ(index->Append(Txn(1, 1400, 1495, 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->Append(Txn(1, 1500, 1496, 0)).ok());
}

TEST(TxnIndex, AppendRequiresAGrowingLastOffset) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 0, 10, 0)).ok());
  EXPECT_EQ(index->Append(Txn(2, 5, 10, 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Append(Txn(2, 5, 9, 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->entries(), 1u);
  EXPECT_EQ(FileSize(dir / "0.txnindex"), TxnIndex::kEntrySize);
  EXPECT_TRUE(index->Append(Txn(2, 5, 11, 0)).ok());
  EXPECT_EQ(index->last_offset(), Offset(11));
}

TEST(TxnIndex, CollectReturnsTheTransactionsOverlappingTheFetchRange) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  // Last stable offsets stay low, so no entry ends the search early.
  const std::vector<AbortedTxn> all = {Txn(1, 0, 9, 0),     // ends before the range
                                       Txn(2, 5, 10, 0),    // ends at fetch_offset: overlaps
                                       Txn(3, 12, 15, 0),   // inside
                                       Txn(4, 18, 30, 0),   // starts inside, ends after
                                       Txn(5, 20, 31, 0),   // starts at upper_bound_offset: outside
                                       Txn(6, 25, 40, 0)};  // after
  for (const auto& t : all) ASSERT_TRUE(index->Append(t).ok());
  auto r = index->CollectAbortedTxns(Offset(10), Offset(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->aborted, (std::vector<AbortedTxn>{all[1], all[2], all[3]}));
  EXPECT_FALSE(r->complete);
}

TEST(TxnIndex, CollectIsCompleteAtTheFirstEntryWhoseLastStableOffsetReachesTheBound) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 10, 12, 5)).ok());
  ASSERT_TRUE(index->Append(Txn(2, 11, 14, 20)).ok());  // LSO == upper bound: complete here
  // Not consistent with the LSO above; it shows the scan stops at the completing entry.
  ASSERT_TRUE(index->Append(Txn(3, 13, 16, 20)).ok());
  auto r = index->CollectAbortedTxns(Offset(0), Offset(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->aborted, (std::vector<AbortedTxn>{Txn(1, 10, 12, 5), Txn(2, 11, 14, 20)}));
  EXPECT_TRUE(r->complete);

  // One past the highest LSO: the caller must go on to the next segment.
  r = index->CollectAbortedTxns(Offset(0), Offset(21));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->aborted.size(), 3u);
  EXPECT_FALSE(r->complete);

  // An entry that completes the search counts even when it is not in the range.
  r = index->CollectAbortedTxns(Offset(0), Offset(10));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->aborted.empty());
  EXPECT_TRUE(r->complete);
}

TEST(TxnIndex, TruncateToDropsEntriesWhoseLastOffsetIsAtOrAboveTheOffset) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(index->Append(Txn(i, i * 10, i * 10 + 5, 0)).ok());

  ASSERT_TRUE(index->TruncateTo(Offset(10000)).ok());  // past the end: nothing to drop
  EXPECT_EQ(index->entries(), 100u);

  ASSERT_TRUE(index->TruncateTo(Offset(803)).ok());  // inside entry 80: it goes
  EXPECT_EQ(index->entries(), 80u);
  EXPECT_EQ(index->last_offset(), Offset(795));
  EXPECT_EQ(FileSize(dir / "0.txnindex"), 80u * TxnIndex::kEntrySize);

  ASSERT_TRUE(index->TruncateTo(Offset(795)).ok());  // exactly a last offset: it goes
  EXPECT_EQ(index->entries(), 79u);
  EXPECT_EQ(index->last_offset(), Offset(785));

  ASSERT_TRUE(index->TruncateTo(Offset(786)).ok());  // above the last offset: kept
  EXPECT_EQ(index->entries(), 79u);

  // The index accepts last offsets again from the new end.
  ASSERT_TRUE(index->Append(Txn(7, 786, 790, 0)).ok());
  EXPECT_EQ(index->AllAbortedTxns()->back(), Txn(7, 786, 790, 0));

  ASSERT_TRUE(index->TruncateTo(Offset(0)).ok());
  EXPECT_EQ(index->entries(), 0u);
  EXPECT_FALSE(index->last_offset().has_value());
  EXPECT_TRUE(index->Append(Txn(8, 0, 1, 0)).ok());
}

TEST(TxnIndex, ResetDropsEveryEntry) {
  TempDir dir;
  auto index = OpenIndex(dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 0, 10, 0)).ok());
  ASSERT_TRUE(index->Append(Txn(2, 0, 20, 0)).ok());
  ASSERT_TRUE(index->Reset().ok());
  EXPECT_EQ(index->entries(), 0u);
  EXPECT_FALSE(index->last_offset().has_value());
  EXPECT_EQ(FileSize(dir / "0.txnindex"), 0u);
  EXPECT_TRUE(index->AllAbortedTxns()->empty());
  EXPECT_TRUE(index->Append(Txn(3, 0, 5, 0)).ok());  // a lower last offset is fine again
}

TEST(TxnIndex, TornFileIsDataLossNamingTheEntry) {
  TempDir dir;
  WriteRaw(dir / "0.txnindex", {RawEntry(0, Txn(1, 0, 5, 0)), RawEntry(0, Txn(1, 6, 9, 0))});
  auto f = PosixFileSystem().Open(dir / "0.txnindex", false);
  ASSERT_TRUE((*f)->Truncate(TxnIndex::kEntrySize + 7).ok());
  auto index = TxnIndex::Open(PosixFileSystem(), dir / "0.txnindex");
  ASSERT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(index.status().message().find(dir / "0.txnindex"), std::string::npos);
  EXPECT_NE(index.status().message().find("torn entry 1"), std::string::npos)
      << index.status().message();
}

TEST(TxnIndex, UnknownVersionIsDataLossNamingTheEntry) {
  TempDir dir;
  WriteRaw(dir / "0.txnindex", {RawEntry(0, Txn(1, 0, 5, 0)), RawEntry(1, Txn(1, 6, 9, 0))});
  auto index = TxnIndex::Open(PosixFileSystem(), dir / "0.txnindex");
  ASSERT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(index.status().message().find(dir / "0.txnindex"), std::string::npos);
  EXPECT_NE(index.status().message().find("entry 1 (byte 34): unknown version 1"),
            std::string::npos)
      << index.status().message();

  WriteRaw(dir / "1.txnindex", {RawEntry(-1, Txn(1, 0, 5, 0))});
  EXPECT_EQ(TxnIndex::Open(PosixFileSystem(), dir / "1.txnindex").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(TxnIndex, LastOffsetsNotGrowingIsDataLossNamingTheEntry) {
  TempDir dir;
  std::vector<std::vector<uint8_t>> entries;
  for (int i = 0; i < 70; ++i) entries.push_back(RawEntry(0, Txn(i, i, i * 2, 0)));
  entries.push_back(RawEntry(0, Txn(99, 0, 100, 0)));  // entry 70: 100 < 138
  WriteRaw(dir / "0.txnindex", entries);
  auto index = TxnIndex::Open(PosixFileSystem(), dir / "0.txnindex");
  ASSERT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(index.status().message().find("entry 70 (byte 2380)"), std::string::npos)
      << index.status().message();

  // An equal last offset is no better: Append would never have written it.
  WriteRaw(dir / "1.txnindex", {RawEntry(0, Txn(1, 0, 5, 0)), RawEntry(0, Txn(2, 1, 5, 0))});
  EXPECT_EQ(TxnIndex::Open(PosixFileSystem(), dir / "1.txnindex").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(TxnIndex, FailedAppendOnAFullDiskLeavesNoTornEntry) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto index = OpenIndex(fs, dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 0, 5, 0)).ok());
  fs.SetWriteBudget(10);  // the next entry is cut after 10 bytes
  EXPECT_EQ(index->Append(Txn(2, 6, 9, 0)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(index->entries(), 1u);
  EXPECT_EQ(index->last_offset(), Offset(5));
  EXPECT_EQ(FileSize(dir / "0.txnindex"), TxnIndex::kEntrySize);
  fs.ClearWriteBudget();
  ASSERT_TRUE(index->Append(Txn(2, 6, 9, 0)).ok());
  index.reset();
  auto reopened = OpenIndex(dir / "0.txnindex");
  EXPECT_EQ(*reopened->AllAbortedTxns(),
            (std::vector<AbortedTxn>{Txn(1, 0, 5, 0), Txn(2, 6, 9, 0)}));
}

TEST(TxnIndex, ReadErrorsAreReturned) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto index = OpenIndex(fs, dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 0, 5, 0)).ok());
  ASSERT_TRUE(index->Append(Txn(2, 3, 8, 0)).ok());
  fs.FailReads(true);
  EXPECT_FALSE(index->CollectAbortedTxns(Offset(0), Offset(10)).ok());
  EXPECT_FALSE(index->AllAbortedTxns().ok());
  EXPECT_FALSE(index->TruncateTo(Offset(6)).ok());
  EXPECT_EQ(index->entries(), 2u);  // a failed truncation changes nothing
  EXPECT_FALSE(TxnIndex::Open(fs, dir / "0.txnindex").ok());
  fs.FailReads(false);
  ASSERT_TRUE(index->TruncateTo(Offset(6)).ok());
  EXPECT_EQ(index->entries(), 1u);
}

TEST(TxnIndex, SyncErrorIsReturned) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto index = OpenIndex(fs, dir / "0.txnindex");
  ASSERT_TRUE(index->Append(Txn(1, 0, 5, 0)).ok());
  fs.FailSyncs(true);
  EXPECT_EQ(index->Sync().code(), absl::StatusCode::kDataLoss);
  fs.FailSyncs(false);
  EXPECT_TRUE(index->Sync().ok());
}

TEST(TxnIndex, CrashKeepsTheSyncedEntries) {
  TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  {
    auto index = OpenIndex(fs, dir / "0.txnindex");
    ASSERT_TRUE(index->Append(Txn(1, 0, 5, 0)).ok());
    ASSERT_TRUE(index->Append(Txn(2, 3, 8, 0)).ok());
    ASSERT_TRUE(index->Sync().ok());
    ASSERT_TRUE(index->Append(Txn(3, 9, 12, 0)).ok());
  }
  ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kDropUnsynced).ok());
  auto index = OpenIndex(fs, dir / "0.txnindex");
  EXPECT_EQ(*index->AllAbortedTxns(), (std::vector<AbortedTxn>{Txn(1, 0, 5, 0), Txn(2, 3, 8, 0)}));
}

TEST(TxnIndex, TornTailAfterACrashIsWholeEntriesOrDataLoss) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    TempDir dir;
    FaultInjectionFileSystem fs(PosixFileSystem(), seed);
    {
      auto index = OpenIndex(fs, dir / "0.txnindex");
      ASSERT_TRUE(index->Append(Txn(1, 0, 5, 0)).ok());
      ASSERT_TRUE(index->Sync().ok());
      ASSERT_TRUE(index->Append(Txn(2, 3, 8, 0)).ok());
    }
    ASSERT_TRUE(fs.SimulateCrash(FaultInjectionFileSystem::CrashMode::kTornTail).ok());
    auto index = TxnIndex::Open(fs, dir / "0.txnindex");
    if (!index.ok()) {
      EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss) << seed;
      continue;
    }
    auto all = (*index)->AllAbortedTxns();
    ASSERT_TRUE(all.ok());
    ASSERT_GE(all->size(), 1u) << seed;
    EXPECT_EQ(all->front(), Txn(1, 0, 5, 0)) << seed;
  }
}

}  // namespace
}  // namespace fjord::storage
