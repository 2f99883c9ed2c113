// Producer state snapshots: Kafka's `.snapshot` layout, taken at rolls and at close, read
// back instead of the segments, and never trusted when damaged or overtaken.
#include "fjord/storage/producer_snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fjord/base/crc32c.h"
#include "fjord/storage/log.h"
#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::MakeParams;

ProducerAppend DataAppend(int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                          int64_t first_offset, bool transactional = false) {
  ProducerAppend a;
  a.producer_id = ProducerId(pid);
  a.epoch = ProducerEpoch(epoch);
  a.transactional = transactional;
  a.batch = ProducerBatch{first_seq, last_seq, Offset(first_offset),
                          Offset(first_offset + last_seq - first_seq), 1000 + first_offset};
  return a;
}

void ExpectSameState(const ProducerStateTable& a, const ProducerStateTable& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, e] : a.producers()) {
    const ProducerEntry* other = b.Find(ProducerId(id));
    ASSERT_NE(other, nullptr) << "producer " << id;
    EXPECT_EQ(other->epoch, e.epoch) << "producer " << id;
    EXPECT_EQ(other->coordinator_epoch, e.coordinator_epoch) << "producer " << id;
    EXPECT_EQ(other->txn_first_offset, e.txn_first_offset) << "producer " << id;
    EXPECT_EQ(other->last_timestamp, e.last_timestamp) << "producer " << id;
    ASSERT_EQ(other->batches.size(), e.batches.size()) << "producer " << id;
    for (size_t i = 0; i < e.batches.size(); ++i) {
      EXPECT_EQ(other->batches[i].first_seq, e.batches[i].first_seq);
      EXPECT_EQ(other->batches[i].last_seq, e.batches[i].last_seq);
      EXPECT_EQ(other->batches[i].first_offset, e.batches[i].first_offset);
      EXPECT_EQ(other->batches[i].last_offset, e.batches[i].last_offset);
      EXPECT_EQ(other->batches[i].max_timestamp, e.batches[i].max_timestamp);
    }
  }
  EXPECT_EQ(a.FirstUnstableOffset(), b.FirstUnstableOffset());
}

TEST(ProducerSnapshotCodec, KeepsEveryProducersWholeDuplicateWindowAndTransaction) {
  ProducerStateTable t;
  // Producer 1: seven batches (five kept), the last ones wrapping past INT32_MAX.
  int64_t offset = 0;
  for (int i = 0; i < 7; ++i, offset += 3) {
    int32_t first = INT32_MAX - 20 + 3 * i;
    int32_t last = first + 2;
    if (i == 6) {
      first = INT32_MAX - 1;  // wraps: INT32_MAX - 1, INT32_MAX, 0
      last = 0;
      ProducerAppend a = DataAppend(1, 3, first, last, offset);
      a.batch.last_offset = Offset(offset + 2);
      t.Record(a);
      continue;
    }
    t.Record(DataAppend(1, 3, first, last, offset));
  }
  // Producer 2: an open transaction.
  t.Record(DataAppend(2, 0, 0, 0, 30, true));
  // Producer 3: its transaction ended by a marker from coordinator epoch 4.
  t.Record(DataAppend(3, 1, 0, 1, 31, true));
  ProducerAppend marker;
  marker.producer_id = ProducerId(3);
  marker.epoch = ProducerEpoch(2);  // the coordinator bumped the epoch: batches forgotten
  marker.marker = TxnMarker{false, 4};
  marker.batch.first_offset = marker.batch.last_offset = Offset(33);
  marker.batch.max_timestamp = 5000;
  t.Record(marker);

  std::vector<uint8_t> bytes = EncodeProducerSnapshot(t);
  absl::StatusOr<ProducerStateTable> back = DecodeProducerSnapshot(bytes, Offset(34));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameState(t, *back);
  EXPECT_EQ(back->Find(ProducerId(1))->batches.size(), ProducerStateTable::kMaxBatches);
  EXPECT_EQ(back->Find(ProducerId(1))->batches.back().first_seq, INT32_MAX - 1);
  EXPECT_EQ(back->FirstUnstableOffset(), Offset(30));
}

TEST(ProducerSnapshotCodec, UsesKafkasBigEndianLayout) {
  ProducerStateTable t;
  t.Record(DataAppend(0x0102030405060708, 9, 10, 12, 100));
  std::vector<uint8_t> bytes = EncodeProducerSnapshot(t);
  // version, CRC, count, then id 8, epoch 2, last seq 4, last offset 8, delta 4,
  // timestamp 8, coordinator epoch 4, transaction first offset 8.
  ASSERT_EQ(bytes.size(), 2u + 4 + 4 + 46);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 1);
  const uint32_t crc = crc32c::Value(bytes.data() + 6, bytes.size() - 6);
  EXPECT_EQ(bytes[2], crc >> 24);
  EXPECT_EQ(bytes[5], crc & 0xff);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 6, bytes.begin() + 24),
            (std::vector<uint8_t>{0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0, 0, 0, 12}));
  // last offset 102, offset delta 2, timestamp 1100, coordinator epoch -1, no transaction.
  EXPECT_EQ(bytes[31], 102);
  EXPECT_EQ(bytes[35], 2);
  EXPECT_EQ(bytes[42], 1100 >> 8);
  EXPECT_EQ(bytes[43], 1100 & 0xff);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 44, bytes.end()), std::vector<uint8_t>(12, 0xff));
}

TEST(ProducerSnapshotCodec, DamagedOrInconsistentSnapshotsAreDataLoss) {
  ProducerStateTable t;
  t.Record(DataAppend(5, 0, 0, 4, 10, true));
  const std::vector<uint8_t> good = EncodeProducerSnapshot(t);
  auto expect_loss = [](std::vector<uint8_t> bytes, Offset at, absl::string_view what) {
    absl::StatusOr<ProducerStateTable> r = DecodeProducerSnapshot(bytes, at);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_NE(r.status().message().find(what), absl::string_view::npos) << r.status();
  };
  std::vector<uint8_t> flipped = good;
  flipped[20] ^= 0x40;
  expect_loss(flipped, Offset(15), "CRC");
  expect_loss(std::vector<uint8_t>(good.begin(), good.end() - 3), Offset(15), "CRC");
  expect_loss({0, 1, 0}, Offset(15), "header");
  std::vector<uint8_t> v2 = good;
  v2[1] = 2;
  expect_loss(v2, Offset(15), "version 2");
  // Whole and checksummed, but the batch lies at or past the snapshot's own offset.
  expect_loss(good, Offset(14), "outside the snapshot");
  // A count that promises more entries than there are bytes.
  std::vector<uint8_t> counted = good;
  counted[9] = 7;
  const uint32_t crc = crc32c::Value(counted.data() + 6, counted.size() - 6);
  for (int i = 0; i < 4; ++i) counted[2 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  expect_loss(counted, Offset(15), "ProducerSnapshot");
}

std::vector<uint8_t> IdempotentBatch(int64_t pid, int16_t epoch, int32_t seq, int64_t ts) {
  protocol::RecordBatchBuilder b;
  b.SetProducer(ProducerId(pid), ProducerEpoch(epoch), seq);
  b.Add(ts, protocol::AsBytes("k"), protocol::AsBytes("v" + std::to_string(seq)));
  b.Add(ts, protocol::AsBytes("k"), protocol::AsBytes("w" + std::to_string(seq)));
  absl::StatusOr<std::vector<uint8_t>> out = std::move(b).Build();
  EXPECT_TRUE(out.ok()) << out.status();
  return *out;
}

class ProducerSnapshotLogTest : public ::testing::Test {
 protected:
  std::string Dir() const { return dir_ / "orders-0"; }
  std::unique_ptr<Log> OpenLog(bool clean = true) {
    Log::Params p = MakeParams(fs_, clock_, Dir());
    p.had_clean_shutdown = clean;
    auto log = Log::Open(std::move(p));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  absl::StatusOr<LogAppendInfo> Append(Log& log, int64_t pid, int16_t epoch, int32_t seq) {
    std::vector<uint8_t> batch = IdempotentBatch(pid, epoch, seq, clock_.NowMs());
    return log.AppendAsLeader(batch, LeaderEpoch(0));
  }
  std::vector<int64_t> SnapshotOffsets() const {
    std::vector<int64_t> out;
    for (const auto& f : std::filesystem::directory_iterator(Dir())) {
      std::string name = f.path().filename().string();
      if (auto at = Segment::ParseFileName(name, kProducerSnapshotSuffix)) out.push_back(at->value);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string SnapshotPath(int64_t at) const {
    return Dir() + "/" + Segment::FileName(Offset(at), kProducerSnapshotSuffix);
  }

  TempDir dir_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
};

TEST_F(ProducerSnapshotLogTest, RollsAndCloseWriteSnapshotsThatAReopenUses) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Append(*log, 7, 0, 0).ok());  // offsets 0-1
    ASSERT_TRUE(log->Roll().ok());
    EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2}));
    ASSERT_TRUE(Append(*log, 7, 0, 2).ok());  // 2-3
    ASSERT_TRUE(Append(*log, 8, 0, 0).ok());  // 4-5
    ASSERT_TRUE(log->Close().ok());
  }
  EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2, 6}));
  auto log = OpenLog();
  // Both producers' windows came back: retries get their original offsets.
  auto retry = Append(*log, 7, 0, 0);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->first_offset, Offset(0));
  retry = Append(*log, 8, 0, 0);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->first_offset, Offset(4));
  EXPECT_EQ(log->log_end_offset(), Offset(6));
  EXPECT_EQ(AppendErrorOf(Append(*log, 7, 0, 9).status()), AppendError::kOutOfOrderSequence);
}

TEST_F(ProducerSnapshotLogTest, ProducerOutlivesTheSegmentsRetentionDeleted) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Append(*log, 7, 3, 0).ok());  // 0-1: producer 7 at epoch 3
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(Append(*log, 8, 0, 0).ok());  // 2-3
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(log->MaybeIncrementLogStartOffset(Offset(2)).ok());
    auto deleted = log->DeleteOldSegments(log->log_end_offset());
    ASSERT_TRUE(deleted.ok());
    EXPECT_EQ(*deleted, 1);
    // The snapshot at 2 went with nothing: it belongs to the segment that stays.
    EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2, 4}));
    ASSERT_TRUE(log->Close().ok());
  }
  // Producer 7's only batch is gone, but its epoch is not (KIP-360): an older epoch is
  // still fenced after the restart.
  auto log = OpenLog();
  EXPECT_EQ(AppendErrorOf(Append(*log, 7, 2, 0).status()), AppendError::kInvalidProducerEpoch);
  EXPECT_TRUE(Append(*log, 7, 3, 2).ok());
}

TEST_F(ProducerSnapshotLogTest, DamagedSnapshotIsDeletedAndTheSegmentsAreReadInstead) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Append(*log, 7, 0, 0).ok());  // 0-1
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(Append(*log, 7, 0, 2).ok());  // 2-3
    ASSERT_TRUE(log->Close().ok());
  }
  ASSERT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2, 4}));
  {
    std::fstream f(SnapshotPath(4), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.put('\x55');
  }
  auto log = OpenLog();
  EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2}));
  // The state is whole: from the snapshot at 2 and the batch after it.
  auto retry = Append(*log, 7, 0, 2);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->first_offset, Offset(2));
  retry = Append(*log, 7, 0, 0);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->first_offset, Offset(0));
  EXPECT_EQ(log->log_end_offset(), Offset(4));
}

TEST_F(ProducerSnapshotLogTest, TruncationAndCutsDropTheSnapshotsPastTheNewEnd) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(Append(*log, 7, 0, 0).ok());  // 0-1
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(Append(*log, 7, 0, 2).ok());  // 2-3
    ASSERT_TRUE(log->Roll().ok());
    ASSERT_TRUE(Append(*log, 7, 0, 4).ok());  // 4-5
    ASSERT_TRUE(log->Roll().ok());
    EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2, 4, 6}));
    ASSERT_TRUE(log->TruncateTo(Offset(3)).ok());
    EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2}));
    // Offsets 2.. are written again by another producer: nothing of the old ones remains.
    ASSERT_TRUE(Append(*log, 9, 0, 0).ok());  // 2-3
    ASSERT_TRUE(log->Close().ok());
  }
  // A snapshot left past the end (as a crash mid-truncation would) is not believed.
  {
    std::ofstream f(SnapshotPath(40), std::ios::binary);
    std::vector<uint8_t> bytes = EncodeProducerSnapshot(ProducerStateTable());
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
  auto log = OpenLog(/*clean=*/false);
  EXPECT_EQ(SnapshotOffsets(), (std::vector<int64_t>{2, 4}));
  auto retry = Append(*log, 9, 0, 0);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->first_offset, Offset(2));
  // Producer 7's batch at 2-3 was truncated away: its next sequence is 2 again.
  EXPECT_EQ(AppendErrorOf(Append(*log, 7, 0, 4).status()), AppendError::kOutOfOrderSequence);
  EXPECT_TRUE(Append(*log, 7, 0, 2).ok());
}

}  // namespace
}  // namespace fjord::storage
