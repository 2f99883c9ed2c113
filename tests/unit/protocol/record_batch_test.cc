#include "fjord/protocol/record_batch.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fjord/base/crc32c.h"
#include "fjord/base/endian.h"
#include "fjord/base/varint.h"
#include "fjord/protocol/record_batch_builder.h"

namespace fjord::protocol {
namespace {

namespace off = batch_offsets;

constexpr Compression kCodecs[] = {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                                   Compression::kLz4, Compression::kZstd};

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string Str(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

// Writes raw record fields, to build malformed records by hand.
struct Writer {
  std::vector<uint8_t> b;
  Writer& Var(int64_t v) {
    uint8_t buf[varint::kMaxVarint64Bytes];
    size_t n = varint::PutUnsigned(buf, varint::ZigZagEncode64(v));
    b.insert(b.end(), buf, buf + n);
    return *this;
  }
  Writer& Raw(std::vector<uint8_t> r) {
    b.insert(b.end(), r.begin(), r.end());
    return *this;
  }
  Writer& Byte(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  // Appends a record: Length prefix, then the body.
  Writer& Record(const Writer& body) {
    Var(static_cast<int64_t>(body.b.size()));
    return Raw(body.b);
  }
};

// A well-formed record body with the given offset delta.
Writer Body(int32_t offset_delta, std::string_view value = "v") {
  Writer w;
  w.Byte(0).Var(0).Var(offset_delta).Var(-1).Var(static_cast<int64_t>(value.size()));
  w.Raw(Bytes(value)).Var(0);
  return w;
}

// A batch around raw record bytes, with a correct CRC.
std::vector<uint8_t> RawBatch(const std::vector<uint8_t>& records, int32_t count, int32_t lod,
                              int16_t attributes = 0) {
  RecordBatchHeader h;
  h.batch_length = static_cast<int32_t>(kMinBatchLength + records.size());
  h.attributes = attributes;
  h.last_offset_delta = lod;
  h.records_count = count;
  h.base_timestamp = 1000;
  h.max_timestamp = 1000;
  std::vector<uint8_t> out(kRecordBatchHeaderSize);
  h.Encode(out.data());
  out.insert(out.end(), records.begin(), records.end());
  EXPECT_TRUE(UpdateCrc(out).ok());
  return out;
}

std::vector<uint8_t> SimpleBatch(Offset base, int n, Compression c = Compression::kNone) {
  RecordBatchBuilder b(base);
  b.SetCompression(c);
  for (int i = 0; i < n; ++i) {
    std::string v = "value-" + std::to_string(i);
    b.Add(1000 + i, AsBytes("k"), AsBytes(v));
  }
  return *b.Build();
}

absl::Status ReadStatus(std::span<const uint8_t> batch, RecordValidation v = {}) {
  absl::StatusOr<RecordBatchView> view = ParseRecordBatch(batch);
  if (!view.ok()) return view.status();
  std::vector<uint8_t> storage;
  return ReadAllRecords(*view, &storage, v).status();
}

TEST(RecordBatch, BuildThenParseRoundTripsWithEveryCodec) {
  const uint8_t hv[] = {1, 2, 3};
  std::vector<RecordHeader> headers = {{"trace", std::span<const uint8_t>(hv)},
                                       {"null-value", std::nullopt},
                                       {"", std::span<const uint8_t>()}};
  for (Compression c : kCodecs) {
    RecordBatchBuilder b(Offset(100));
    b.SetCompression(c)
        .SetProducer(ProducerId(7), ProducerEpoch(3), 42)
        .SetTransactional(true)
        .SetPartitionLeaderEpoch(LeaderEpoch(5));
    b.Add(5000, std::nullopt, AsBytes("null key"));
    b.Add(4990, AsBytes(""), std::nullopt, headers);  // earlier timestamp: negative delta
    b.Add(5020, AsBytes("key"), AsBytes(""));
    for (int i = 0; i < 500; ++i) b.Add(5001, AsBytes("k" + std::to_string(i)), AsBytes("vvvv"));
    absl::StatusOr<std::vector<uint8_t>> bytes = b.Build();
    ASSERT_TRUE(bytes.ok()) << bytes.status();

    absl::StatusOr<RecordBatchView> view =
        ParseRecordBatch(*bytes, BatchValidation{.require_dense_offsets = true});
    ASSERT_TRUE(view.ok()) << CompressionName(c) << ": " << view.status();
    const RecordBatchHeader& h = view->header();
    EXPECT_EQ(h.size_in_bytes(), bytes->size());
    EXPECT_EQ(h.base_offset, Offset(100));
    EXPECT_EQ(h.last_offset_delta, 502);
    EXPECT_EQ(h.last_offset(), Offset(602));
    EXPECT_EQ(h.records_count, 503);
    EXPECT_EQ(h.compression(), c);
    EXPECT_EQ(h.timestamp_type(), TimestampType::kCreateTime);
    EXPECT_TRUE(h.is_transactional());
    EXPECT_FALSE(h.is_control());
    EXPECT_FALSE(h.delete_horizon_ms().has_value());
    EXPECT_EQ(h.base_timestamp, 5000);
    EXPECT_EQ(h.max_timestamp, 5020);
    EXPECT_EQ(h.producer_id, ProducerId(7));
    EXPECT_EQ(h.producer_epoch, ProducerEpoch(3));
    EXPECT_EQ(h.base_sequence, 42);
    EXPECT_EQ(h.last_sequence(), 42 + 502);
    EXPECT_EQ(h.partition_leader_epoch, LeaderEpoch(5));

    std::vector<uint8_t> storage;
    absl::StatusOr<std::vector<Record>> records =
        ReadAllRecords(*view, &storage, RecordValidation{.require_dense_offsets = true});
    ASSERT_TRUE(records.ok()) << CompressionName(c) << ": " << records.status();
    ASSERT_EQ(records->size(), 503u);
    const Record& r0 = (*records)[0];
    EXPECT_EQ(r0.offset, Offset(100));
    EXPECT_EQ(r0.timestamp, 5000);
    EXPECT_FALSE(r0.key.has_value());
    EXPECT_EQ(Str(*r0.value), "null key");
    const Record& r1 = (*records)[1];
    EXPECT_EQ(r1.offset, Offset(101));
    EXPECT_EQ(r1.timestamp, 4990);
    EXPECT_EQ(r1.timestamp_delta, -10);
    ASSERT_TRUE(r1.key.has_value());
    EXPECT_TRUE(r1.key->empty());
    EXPECT_FALSE(r1.value.has_value());
    ASSERT_EQ(r1.headers.size(), 3u);
    EXPECT_EQ(r1.headers[0].key, "trace");
    EXPECT_EQ(Str(*r1.headers[0].value), std::string("\x01\x02\x03"));
    EXPECT_EQ(r1.headers[1].key, "null-value");
    EXPECT_FALSE(r1.headers[1].value.has_value());
    EXPECT_EQ(r1.headers[2].key, "");
    ASSERT_TRUE(r1.headers[2].value.has_value());
    EXPECT_TRUE(r1.headers[2].value->empty());
    const Record& r2 = (*records)[2];
    EXPECT_EQ(Str(*r2.key), "key");
    ASSERT_TRUE(r2.value.has_value());
    EXPECT_TRUE(r2.value->empty());
    for (int i = 0; i < 500; ++i) {
      const Record& r = (*records)[3 + i];
      EXPECT_EQ(r.offset, Offset(103 + i));
      EXPECT_EQ(Str(*r.key), "k" + std::to_string(i));
      EXPECT_EQ(r.timestamp, 5001);
    }
  }
}

TEST(RecordBatch, ManyRecordsStreamThroughTheReader) {
  for (Compression c : kCodecs) {
    std::vector<uint8_t> batch = SimpleBatch(Offset(0), 20000, c);
    absl::StatusOr<RecordBatchView> view = ParseRecordBatch(batch);
    ASSERT_TRUE(view.ok()) << view.status();
    RecordReader reader(*view);
    int n = 0;
    while (reader.Next()) {
      ASSERT_EQ(reader.record().offset, Offset(n));
      ++n;
    }
    EXPECT_TRUE(reader.status().ok()) << reader.status();
    EXPECT_EQ(n, 20000);
  }
}

TEST(RecordBatch, EmptyBuilderCannotBuild) {
  EXPECT_EQ(RecordBatchBuilder().Build().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecordBatch, SequenceWrapsAtInt32Max) {
  RecordBatchHeader h;
  h.base_sequence = std::numeric_limits<int32_t>::max() - 1;
  h.last_offset_delta = 3;
  EXPECT_EQ(h.last_sequence(), 1);
  h.base_sequence = -1;
  EXPECT_EQ(h.last_sequence(), -1);
}

TEST(RecordBatch, CrcMismatchInHeaderAfterCrcIsRejected) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 3);
  for (size_t i = off::kAttributes; i < kRecordBatchHeaderSize; ++i) {
    std::vector<uint8_t> bad = batch;
    bad[i] ^= 0x01;
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(bad);
    ASSERT_FALSE(v.ok()) << i;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << i;
    EXPECT_NE(v.status().message().find("CRC mismatch"), std::string::npos) << v.status();
  }
}

TEST(RecordBatch, CrcMismatchInRecordsIsRejected) {
  for (Compression c : kCodecs) {
    std::vector<uint8_t> batch = SimpleBatch(Offset(0), 50, c);
    for (size_t i = kRecordBatchHeaderSize; i < batch.size(); i += 7) {
      std::vector<uint8_t> bad = batch;
      bad[i] ^= 0x80;
      EXPECT_EQ(ParseRecordBatch(bad).status().code(), absl::StatusCode::kDataLoss) << i;
    }
  }
}

TEST(RecordBatch, CrcMismatchInTheStoredCrcIsRejected) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 3);
  batch[off::kCrc + 2] ^= 0x10;
  EXPECT_EQ(ParseRecordBatch(batch).status().code(), absl::StatusCode::kDataLoss);
  // Unless the caller asked not to verify it.
  EXPECT_TRUE(ParseRecordBatch(batch, BatchValidation{.verify_crc = false}).ok());
}

TEST(RecordBatch, BaseOffsetAndLeaderEpochAreNotCoveredByTheCrc) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 3);
  for (size_t i : {0u, 7u, 12u, 15u}) {
    std::vector<uint8_t> patched = batch;
    patched[i] ^= 0x22;
    EXPECT_TRUE(ParseRecordBatch(patched).ok()) << i;
  }
}

TEST(RecordBatch, TruncatedBatchIsRejectedAtEveryLength) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 10, Compression::kGzip);
  for (size_t len = 0; len < batch.size(); ++len) {
    std::span<const uint8_t> cut(batch.data(), len);
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(cut);
    ASSERT_FALSE(v.ok()) << len;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << len;
    // The iterator calls it a partial tail rather than an error.
    RecordBatchIterator it(cut);
    EXPECT_FALSE(it.Next()) << len;
    EXPECT_TRUE(it.status().ok()) << len << ": " << it.status();
    EXPECT_EQ(it.has_partial_tail(), len > 0) << len;
  }
}

TEST(RecordBatch, IteratorWalksConcatenatedBatchesAndReportsAPartialTail) {
  std::vector<uint8_t> all;
  std::vector<size_t> starts;
  for (int i = 0; i < 3; ++i) {
    starts.push_back(all.size());
    std::vector<uint8_t> b = SimpleBatch(Offset(i * 10), 10, kCodecs[i]);
    all.insert(all.end(), b.begin(), b.end());
  }
  size_t full = all.size();
  std::vector<uint8_t> tail = SimpleBatch(Offset(30), 10);
  all.insert(all.end(), tail.begin(), tail.begin() + 40);

  RecordBatchIterator it(all);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(it.Next()) << it.status();
    EXPECT_EQ(it.batch().position(), starts[i]);
    EXPECT_EQ(it.batch().header().base_offset, Offset(i * 10));
  }
  EXPECT_FALSE(it.Next());
  EXPECT_TRUE(it.status().ok());
  EXPECT_TRUE(it.has_partial_tail());
  EXPECT_EQ(it.position(), full);
  EXPECT_FALSE(it.Next());

  RecordBatchIterator clean(std::span<const uint8_t>(all.data(), full));
  int n = 0;
  while (clean.Next()) ++n;
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(clean.has_partial_tail());
  EXPECT_TRUE(clean.status().ok());
}

TEST(RecordBatch, IteratorStopsAtACorruptBatchWithItsPosition) {
  std::vector<uint8_t> all = SimpleBatch(Offset(0), 5);
  size_t second = all.size();
  std::vector<uint8_t> b = SimpleBatch(Offset(5), 5);
  b[b.size() - 1] ^= 0xFF;
  all.insert(all.end(), b.begin(), b.end());
  RecordBatchIterator it(all);
  ASSERT_TRUE(it.Next());
  EXPECT_FALSE(it.Next());
  EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(it.status().message().find("batch at byte " + std::to_string(second)),
            std::string::npos)
      << it.status();
  EXPECT_FALSE(it.has_partial_tail());
}

TEST(RecordBatch, BadMagicIsRejected) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 2);
  batch[off::kMagic] = 3;
  EXPECT_EQ(ParseRecordBatch(batch).status().code(), absl::StatusCode::kDataLoss);
  batch[off::kMagic] = 0xFF;
  EXPECT_EQ(ParseRecordBatch(batch).status().code(), absl::StatusCode::kDataLoss);
  batch[off::kMagic] = 1;
  EXPECT_EQ(ParseRecordBatch(batch).status().code(), absl::StatusCode::kUnimplemented);
  // Even a partial tail with a bad magic is corruption, not a tail.
  batch[off::kMagic] = 7;
  RecordBatchIterator it(std::span<const uint8_t>(batch.data(), 30));
  EXPECT_FALSE(it.Next());
  EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordBatch, UnusedAttributeBitsAndUnknownCodecsAreRejected) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 2);
  for (uint16_t bit = 7; bit < 16; ++bit) {
    std::vector<uint8_t> bad = batch;
    be::Store16(bad.data() + off::kAttributes, static_cast<uint16_t>(1u << bit));
    ASSERT_TRUE(UpdateCrc(bad).ok());
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bit;
  }
  for (uint16_t codec = 5; codec < 8; ++codec) {
    std::vector<uint8_t> bad = batch;
    be::Store16(bad.data() + off::kAttributes, codec);
    ASSERT_TRUE(UpdateCrc(bad).ok());
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << codec;
    EXPECT_NE(v.status().message().find("compression"), std::string::npos);
  }
}

TEST(RecordBatch, DeleteHorizonBitExposesBaseTimestamp) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 2);
  be::Store16(batch.data() + off::kAttributes, batch_attributes::kDeleteHorizon);
  ASSERT_TRUE(UpdateCrc(batch).ok());
  absl::StatusOr<RecordBatchView> v = ParseRecordBatch(batch);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header().delete_horizon_ms(), 1000);
}

TEST(RecordBatch, NegativeSmallAndHugeLengthsAreRejected) {
  std::vector<uint8_t> batch = SimpleBatch(Offset(0), 2);
  for (int32_t len : {-1, std::numeric_limits<int32_t>::min(), 0, 48}) {
    std::vector<uint8_t> bad = batch;
    be::Store32(bad.data() + off::kBatchLength, static_cast<uint32_t>(len));
    EXPECT_EQ(ParseRecordBatch(bad).status().code(), absl::StatusCode::kDataLoss) << len;
    RecordBatchIterator it(bad);
    EXPECT_FALSE(it.Next());
    EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss) << len;
    EXPECT_FALSE(it.has_partial_tail());
  }
  // A length past the end of the input is a truncation...
  std::vector<uint8_t> bad = batch;
  be::Store32(bad.data() + off::kBatchLength, 1 << 20);
  EXPECT_EQ(ParseRecordBatch(bad).status().code(), absl::StatusCode::kDataLoss);
  // ...unless it passes the size limit: then the batch is too large, wherever it ends.
  BatchValidation limited{.max_batch_size = 1000};
  EXPECT_EQ(ParseRecordBatch(bad, limited).status().code(), absl::StatusCode::kResourceExhausted);
  RecordBatchIterator it(bad, limited);
  EXPECT_FALSE(it.Next());
  EXPECT_EQ(it.status().code(), absl::StatusCode::kResourceExhausted);
  be::Store32(bad.data() + off::kBatchLength, 0x7FFFFFFF);
  EXPECT_EQ(ParseRecordBatch(bad).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RecordBatch, RecordsCountMustAgreeWithTheRecords) {
  std::vector<uint8_t> two = Writer().Record(Body(0)).Record(Body(1)).b;
  // More declared than present.
  EXPECT_EQ(ReadStatus(RawBatch(two, 3, 2)).code(), absl::StatusCode::kInvalidArgument);
  // Fewer declared than present: bytes left over.
  absl::Status s = ReadStatus(RawBatch(two, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("follow the last"), std::string::npos) << s;
  EXPECT_TRUE(ReadStatus(RawBatch(two, 2, 1)).ok());
  // More than the offset range can hold, and negative counts.
  EXPECT_EQ(ParseRecordBatch(RawBatch(two, 2, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRecordBatch(RawBatch(two, -1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRecordBatch(RawBatch(two, 2, -1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A count that cannot fit in the bytes is refused before reading anything.
  EXPECT_EQ(ParseRecordBatch(RawBatch(two, 1000, 5000)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordBatch, DenseOffsetsAreRequiredOnlyWhenAsked) {
  // A compacted batch: offsets 0 and 3 of 0..5 survive.
  std::vector<uint8_t> gappy = RawBatch(Writer().Record(Body(0)).Record(Body(3)).b, 2, 5);
  EXPECT_TRUE(ReadStatus(gappy).ok());
  BatchValidation dense{.require_dense_offsets = true};
  EXPECT_EQ(ParseRecordBatch(gappy, dense).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadStatus(gappy, RecordValidation{.require_dense_offsets = true}).code(),
            absl::StatusCode::kInvalidArgument);
  // An empty batch kept by compaction for its producer state.
  std::vector<uint8_t> empty = RawBatch({}, 0, 4);
  EXPECT_TRUE(ReadStatus(empty).ok());
  EXPECT_EQ(ParseRecordBatch(empty, dense).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecordBatch, OffsetDeltasMustIncreaseWithinTheRange) {
  EXPECT_EQ(ReadStatus(RawBatch(Writer().Record(Body(1)).Record(Body(1)).b, 2, 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadStatus(RawBatch(Writer().Record(Body(2)).Record(Body(1)).b, 2, 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadStatus(RawBatch(Writer().Record(Body(0)).Record(Body(4)).b, 2, 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadStatus(RawBatch(Writer().Record(Body(-1)).b, 1, 3)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordBatch, MalformedRecordFieldsAreRejected) {
  const std::vector<uint8_t> overlong = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  struct Case {
    const char* name;
    std::vector<uint8_t> records;
  };
  std::vector<Case> cases = {
      {"overlong Length varint", Writer().Raw(overlong).Raw(Body(0).b).b},
      {"truncated Length varint", Writer().Byte(0x80).Raw(std::vector<uint8_t>(7, 0)).b},
      {"negative Length", Writer().Var(-5).Raw(Body(0).b).b},
      {"Length past the end", Writer().Var(100).Raw(Body(0).b).b},
      {"zero Length", Writer().Var(0).Raw(std::vector<uint8_t>(7, 0)).b},
      {"overlong OffsetDelta",
       Writer().Record(Writer().Byte(0).Var(0).Raw(overlong).Var(-1).Var(-1).Var(0)).b},
      {"huge key length",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(0x7FFFFFFF).Var(-1).Var(0)).b},
      {"key length below -1",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-2).Var(-1).Var(0)).b},
      {"value length past the record",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(3).Raw({1, 2})).Var(0).b},
      {"header count 2^31-1",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(-1).Var(0x7FFFFFFF)).b},
      {"negative header count",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(-1).Var(-1)).b},
      {"null header key",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(-1).Var(1).Var(-1).Var(-1)).b},
      {"header value length past the record",
       Writer()
           .Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(-1).Var(1).Var(1).Byte('k').Var(9))
           .b},
      {"bytes left in the record",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1).Var(-1).Var(0).Byte(0).Byte(0)).b},
      {"record ends early",
       Writer().Record(Writer().Byte(0).Var(0).Var(0).Var(-1)).Raw({0, 0, 0}).b},
  };
  for (const Case& c : cases) {
    absl::Status s = ReadStatus(RawBatch(c.records, 1, 0));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name << ": " << s;
  }
  EXPECT_TRUE(ReadStatus(RawBatch(Writer().Record(Body(0)).b, 1, 0)).ok());
}

TEST(RecordBatch, CorruptCompressedRecordsAreRejected) {
  std::vector<uint8_t> garbage(200, 0x5A);
  for (Compression c :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    absl::Status s = ReadStatus(RawBatch(garbage, 1, 0, static_cast<int16_t>(c)));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << CompressionName(c) << ": " << s;
  }
}

TEST(RecordBatch, DecompressionBombIsRejectedAtTheCallersLimit) {
  std::vector<uint8_t> zeros(10 << 20, 0);
  for (Compression c :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    RecordBatchBuilder b;
    b.SetCompression(c);
    b.Add(0, std::nullopt, std::span<const uint8_t>(zeros));
    std::vector<uint8_t> batch = *b.Build();
    ASSERT_LT(batch.size(), 1u << 20) << CompressionName(c);
    absl::Status s = ReadStatus(batch, RecordValidation{.max_decompressed_size = 1 << 20});
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << CompressionName(c) << ": " << s;
  }
}

TEST(RecordBatch, PatchingHelpersKeepTheCrcValid) {
  for (Compression c : {Compression::kNone, Compression::kLz4}) {
    std::vector<uint8_t> batch = SimpleBatch(Offset(0), 5, c);
    ASSERT_TRUE(SetBaseOffset(batch, Offset(1234567)).ok());
    ASSERT_TRUE(SetPartitionLeaderEpoch(batch, LeaderEpoch(9)).ok());
    ASSERT_TRUE(SetLogAppendTime(batch, 777777).ok());
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(batch);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->header().base_offset, Offset(1234567));
    EXPECT_EQ(v->header().partition_leader_epoch, LeaderEpoch(9));
    EXPECT_EQ(v->header().timestamp_type(), TimestampType::kLogAppendTime);
    EXPECT_EQ(v->header().max_timestamp, 777777);
    EXPECT_EQ(v->header().compression(), c);
    std::vector<uint8_t> storage;
    absl::StatusOr<std::vector<Record>> records = ReadAllRecords(*v, &storage);
    ASSERT_TRUE(records.ok());
    for (size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i].offset, Offset(1234567 + static_cast<int64_t>(i)));
      EXPECT_EQ((*records)[i].timestamp, 777777);  // LogAppendTime: the batch's time
    }
    ASSERT_TRUE(SetMaxTimestamp(batch, TimestampType::kCreateTime, 1004).ok());
    v = ParseRecordBatch(batch);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->header().timestamp_type(), TimestampType::kCreateTime);
    EXPECT_EQ(crc32c::Value(std::span<const uint8_t>(batch).subspan(off::kAttributes)),
              v->header().crc);
  }
  std::vector<uint8_t> tiny(60);
  EXPECT_EQ(SetBaseOffset(tiny, Offset(1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpdateCrc(tiny).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecordBatch, ControlBatchRoundTripsATransactionMarker) {
  for (ControlRecordType type : {ControlRecordType::kAbort, ControlRecordType::kCommit}) {
    std::vector<uint8_t> batch = BuildControlBatch(Offset(50), ProducerId(11), ProducerEpoch(2),
                                                   EndTxnMarker{type, 17}, 99999, LeaderEpoch(4));
    absl::StatusOr<RecordBatchView> v = ParseRecordBatch(batch);
    ASSERT_TRUE(v.ok()) << v.status();
    const RecordBatchHeader& h = v->header();
    EXPECT_TRUE(h.is_control());
    EXPECT_TRUE(h.is_transactional());
    EXPECT_EQ(h.producer_id, ProducerId(11));
    EXPECT_EQ(h.producer_epoch, ProducerEpoch(2));
    EXPECT_EQ(h.base_sequence, -1);
    EXPECT_EQ(h.records_count, 1);
    EXPECT_EQ(h.partition_leader_epoch, LeaderEpoch(4));
    std::vector<uint8_t> storage;
    absl::StatusOr<std::vector<Record>> records = ReadAllRecords(*v, &storage);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 1u);
    const Record& r = (*records)[0];
    EXPECT_EQ(r.offset, Offset(50));
    EXPECT_EQ(r.timestamp, 99999);
    ASSERT_TRUE(r.key && r.key->size() == 4);
    EXPECT_EQ(be::Load16(r.key->data()), 0);  // version
    EXPECT_EQ(be::Load16(r.key->data() + 2), static_cast<uint16_t>(type));
    absl::StatusOr<EndTxnMarker> m = ParseEndTxnMarker(r);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(*m, (EndTxnMarker{type, 17}));
  }
}

TEST(RecordBatch, NonMarkerControlRecordsAreNotTransactionMarkers) {
  Record r;
  const uint8_t leader_change[] = {0, 0, 0, 2};
  r.key = std::span<const uint8_t>(leader_change);
  EXPECT_EQ(*ParseControlRecordType(r), 2);
  EXPECT_EQ(ParseEndTxnMarker(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.key = std::nullopt;
  EXPECT_FALSE(ParseControlRecordType(r).ok());
}

TEST(RecordBatch, ExplicitOffsetDeltasBuildACompactedBatch) {
  RecordBatchBuilder b(Offset(10));
  ASSERT_TRUE(b.AddWithOffsetDelta(1, 5, AsBytes("a"), AsBytes("1")).ok());
  ASSERT_TRUE(b.AddWithOffsetDelta(4, 6, AsBytes("b"), AsBytes("2")).ok());
  EXPECT_FALSE(b.AddWithOffsetDelta(4, 7, AsBytes("c"), AsBytes("3")).ok());
  std::vector<uint8_t> batch = *b.Build();
  absl::StatusOr<RecordBatchView> v = ParseRecordBatch(batch);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header().last_offset_delta, 4);
  EXPECT_EQ(v->header().records_count, 2);
  std::vector<uint8_t> storage;
  absl::StatusOr<std::vector<Record>> records = ReadAllRecords(*v, &storage);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ((*records)[1].offset, Offset(14));
}

TEST(RecordBatch, RandomMutationsNeverCrashTheReader) {
  std::mt19937 rng(3);
  for (Compression c : kCodecs) {
    std::vector<uint8_t> batch = SimpleBatch(Offset(0), 30, c);
    for (int i = 0; i < 3000; ++i) {
      std::vector<uint8_t> bad = batch;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bad[kRecordBatchHeaderSize - 4 + rng() % (bad.size() - kRecordBatchHeaderSize + 4)] =
            static_cast<uint8_t>(rng());
      }
      ASSERT_TRUE(UpdateCrc(bad).ok());  // get past the CRC to exercise the parser
      absl::StatusOr<RecordBatchView> v = ParseRecordBatch(bad);
      if (!v.ok()) continue;
      RecordReader reader(*v, RecordValidation{.max_decompressed_size = 1 << 16});
      while (reader.Next()) {
      }
    }
  }
}

}  // namespace
}  // namespace fjord::protocol
