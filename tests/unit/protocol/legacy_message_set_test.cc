#include "fjord/protocol/legacy_message_set.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fjord/base/endian.h"
#include "fjord/protocol/compression.h"
#include "fjord/protocol/record_batch_builder.h"

namespace fjord::protocol {
namespace {

using Bytes = std::vector<uint8_t>;

void Put32(Bytes* b, uint32_t v) {
  size_t at = b->size();
  b->resize(at + 4);
  be::Store32(b->data() + at, v);
}
void Put64(Bytes* b, uint64_t v) {
  size_t at = b->size();
  b->resize(at + 8);
  be::Store64(b->data() + at, v);
}
void PutBytes(Bytes* b, const std::optional<Bytes>& v) {
  if (!v) {
    Put32(b, 0xFFFFFFFFu);
    return;
  }
  Put32(b, static_cast<uint32_t>(v->size()));
  b->insert(b->end(), v->begin(), v->end());
}
Bytes B(std::string_view s) { return {s.begin(), s.end()}; }

// One message set entry, laid out by hand: offset, size, crc, magic, attributes,
// [timestamp], key, value. The CRC (zlib CRC-32 of magic..end) is correct.
Bytes Entry(int64_t offset, int8_t magic, int8_t attributes, int64_t timestamp,
            const std::optional<Bytes>& key, const std::optional<Bytes>& value) {
  Bytes m;
  m.push_back(static_cast<uint8_t>(magic));
  m.push_back(static_cast<uint8_t>(attributes));
  if (magic == 1) Put64(&m, static_cast<uint64_t>(timestamp));
  PutBytes(&m, key);
  PutBytes(&m, value);
  Bytes e;
  Put64(&e, static_cast<uint64_t>(offset));
  Put32(&e, static_cast<uint32_t>(m.size() + 4));
  Put32(&e, static_cast<uint32_t>(crc32(0, m.data(), static_cast<uInt>(m.size()))));
  e.insert(e.end(), m.begin(), m.end());
  return e;
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A wrapper holding `inner` compressed with codec c.
Bytes Wrapper(int64_t offset, int8_t magic, Compression c, const Bytes& inner,
              int64_t timestamp = 0, bool log_append_time = false) {
  Bytes z = *Compress(c, inner);
  int8_t attrs = static_cast<int8_t>(static_cast<int>(c) | (log_append_time ? 0x08 : 0));
  return Entry(offset, magic, attrs, timestamp, std::nullopt, z);
}

// Messages with keys and values copied out: the iterator's spans die with it.
struct Messages {
  std::vector<LegacyMessage> list;
  std::vector<std::unique_ptr<Bytes>> owned;
  size_t size() const { return list.size(); }
  const LegacyMessage& operator[](size_t i) const { return list[i]; }
};

Messages ReadAll(const Bytes& set, absl::Status* status, LegacyValidation v = {}) {
  LegacyMessageSetIterator it(set, v);
  Messages out;
  auto own = [&](std::optional<std::span<const uint8_t>>* b) {
    if (!*b) return;
    out.owned.push_back(std::make_unique<Bytes>((*b)->begin(), (*b)->end()));
    *b = std::span<const uint8_t>(*out.owned.back());
  };
  while (it.Next()) {
    LegacyMessage m = it.message();
    own(&m.key);
    own(&m.value);
    out.list.push_back(m);
  }
  *status = it.status();
  return out;
}

std::string Str(const std::optional<std::span<const uint8_t>>& b) {
  return b ? std::string(b->begin(), b->end()) : "<null>";
}

TEST(LegacyMessageSet, Magic0MessagesAreRead) {
  Bytes set =
      Concat({Entry(5, 0, 0, 0, std::nullopt, B("hello")), Entry(6, 0, 0, 0, B("k"), B(""))});
  absl::Status s;
  Messages m = ReadAll(set, &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].offset, Offset(5));
  EXPECT_EQ(m[0].magic, 0);
  EXPECT_FALSE(m[0].key.has_value());
  EXPECT_EQ(Str(m[0].value), "hello");
  EXPECT_EQ(m[0].timestamp, kNoTimestamp);
  EXPECT_FALSE(m[0].timestamp_type.has_value());
  EXPECT_FALSE(m[0].inner);
  EXPECT_EQ(Str(m[1].key), "k");
  ASSERT_TRUE(m[1].value.has_value());
  EXPECT_TRUE(m[1].value->empty());
}

TEST(LegacyMessageSet, Magic1MessagesCarryTimestampAndType) {
  Bytes set =
      Concat({Entry(0, 1, 0, 1111, B("a"), B("x")), Entry(1, 1, 0x08, 2222, B("b"), std::nullopt)});
  absl::Status s;
  Messages m = ReadAll(set, &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].timestamp, 1111);
  EXPECT_EQ(m[0].timestamp_type, TimestampType::kCreateTime);
  EXPECT_EQ(m[1].timestamp, 2222);
  EXPECT_EQ(m[1].timestamp_type, TimestampType::kLogAppendTime);
  EXPECT_FALSE(m[1].value.has_value());
}

TEST(LegacyMessageSet, GzipWrapperMagic1HasRelativeInnerOffsets) {
  Bytes inner = Concat({Entry(0, 1, 0, 10, B("a"), B("1")), Entry(1, 1, 0, 11, B("b"), B("2")),
                        Entry(2, 1, 0, 12, B("c"), B("3"))});
  Bytes set = Concat({Entry(99, 1, 0, 9, std::nullopt, B("before")),
                      Wrapper(102, 1, Compression::kGzip, inner, 500)});
  absl::Status s;
  Messages m = ReadAll(set, &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].offset, Offset(99));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(m[1 + i].offset, Offset(100 + i));
    EXPECT_EQ(m[1 + i].timestamp, 10 + i);  // CreateTime wrapper: inner timestamps kept
    EXPECT_TRUE(m[1 + i].inner);
  }
  EXPECT_EQ(Str(m[3].key), "c");
  EXPECT_EQ(Str(m[3].value), "3");
}

TEST(LegacyMessageSet, LogAppendTimeWrapperOverridesInnerTimestamps) {
  Bytes inner = Concat({Entry(0, 1, 0, 10, B("a"), B("1")), Entry(1, 1, 0, 11, B("b"), B("2"))});
  absl::Status s;
  Messages m =
      ReadAll(Wrapper(7, 1, Compression::kSnappy, inner, 9999, /*log_append_time=*/true), &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].offset, Offset(6));
  EXPECT_EQ(m[1].offset, Offset(7));
  EXPECT_EQ(m[0].timestamp, 9999);
  EXPECT_EQ(m[0].timestamp_type, TimestampType::kLogAppendTime);
}

TEST(LegacyMessageSet, Magic0WrapperKeepsAbsoluteInnerOffsets) {
  Bytes inner = Concat({Entry(40, 0, 0, 0, B("a"), B("1")), Entry(41, 0, 0, 0, B("b"), B("2"))});
  for (Compression c : {Compression::kGzip, Compression::kSnappy, Compression::kLz4}) {
    absl::Status s;
    Messages m = ReadAll(Wrapper(41, 0, c, inner), &s);
    ASSERT_TRUE(s.ok()) << CompressionName(c) << ": " << s;
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].offset, Offset(40));
    EXPECT_EQ(m[1].offset, Offset(41));
    EXPECT_EQ(Str(m[1].value), "2");
  }
}

TEST(LegacyMessageSet, Lz4HeaderChecksumIsIgnoredOnlyForMagic0) {
  for (int8_t magic : {0, 1}) {
    Bytes inner = Concat({Entry(0, magic, 0, 1, B("a"), B("1"))});
    Bytes z = *Compress(Compression::kLz4, inner);
    z[6] ^= 0xFF;  // what Kafka < 0.10 effectively wrote: a wrong header checksum
    Bytes set = Entry(0, magic, static_cast<int8_t>(Compression::kLz4), 0, std::nullopt, z);
    absl::Status s;
    Messages m = ReadAll(set, &s);
    if (magic == 0) {
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_EQ(m.size(), 1u);
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    }
  }
}

TEST(LegacyMessageSet, CrcMismatchIsRejected) {
  Bytes set = Entry(0, 1, 0, 5, B("key"), B("value"));
  for (size_t i = 16; i < set.size(); ++i) {
    Bytes bad = set;
    bad[i] ^= 0x04;
    absl::Status s;
    ReadAll(bad, &s);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << i << ": " << s;
  }
  LegacyValidation no_crc{.verify_crc = false};
  Bytes bad = set;
  bad[set.size() - 1] ^= 0x04;
  absl::Status s;
  EXPECT_EQ(ReadAll(bad, &s, no_crc).size(), 1u);
  EXPECT_TRUE(s.ok());
}

TEST(LegacyMessageSet, TruncatedTailIsAPartialTailNotAnError) {
  Bytes first = Entry(0, 1, 0, 5, B("k"), B("v"));
  Bytes set = Concat(
      {first, Wrapper(3, 1, Compression::kGzip, Concat({Entry(0, 1, 0, 1, B("a"), B("1"))}))});
  for (size_t len = first.size(); len < set.size(); ++len) {
    LegacyMessageSetIterator it(std::span<const uint8_t>(set.data(), len));
    ASSERT_TRUE(it.Next());
    EXPECT_FALSE(it.Next()) << len;
    EXPECT_TRUE(it.status().ok()) << len << ": " << it.status();
    EXPECT_EQ(it.has_partial_tail(), len > first.size()) << len;
  }
}

TEST(LegacyMessageSet, MalformedMessagesAreRejected) {
  auto status_of = [](const Bytes& set) {
    absl::Status s;
    ReadAll(set, &s);
    return s;
  };
  Bytes good = Entry(0, 1, 0, 5, B("k"), B("v"));
  // Size below the minimum, and negative.
  for (uint32_t size : {13u, 0u, 0xFFFFFFFFu}) {
    Bytes bad = good;
    be::Store32(bad.data() + 8, size);
    EXPECT_EQ(status_of(bad).code(), absl::StatusCode::kDataLoss) << size;
  }
  // A magic 1 message too short for its timestamp.
  EXPECT_EQ(status_of(Entry(0, 1, 0, 0, std::nullopt, std::nullopt)).code(), absl::StatusCode::kOk);
  Bytes short_v1 = Entry(0, 0, 0, 0, std::nullopt, std::nullopt);  // 14 bytes, magic 0
  short_v1[16] = 1;
  Put32(&short_v1, 0);  // keep the entry walkable; fix size and CRC
  be::Store32(short_v1.data() + 8, 18);
  be::Store32(short_v1.data() + 12, static_cast<uint32_t>(crc32(0, short_v1.data() + 16, 14)));
  EXPECT_EQ(status_of(short_v1).code(), absl::StatusCode::kDataLoss);
  // Key length past the end: rewrite it and the CRC.
  Bytes bad_key = good;
  be::Store32(bad_key.data() + 26, 1000);
  be::Store32(
      bad_key.data() + 12,
      static_cast<uint32_t>(crc32(0, bad_key.data() + 16, static_cast<uInt>(bad_key.size() - 16))));
  EXPECT_EQ(status_of(bad_key).code(), absl::StatusCode::kDataLoss);
  // zstd is not a magic 0/1 codec.
  EXPECT_EQ(status_of(Entry(0, 1, 4, 0, std::nullopt, B("x"))).code(),
            absl::StatusCode::kInvalidArgument);
  // Bad magic, and a v2 batch where a message set was expected.
  Bytes magic5 = good;
  magic5[16] = 5;
  EXPECT_EQ(status_of(magic5).code(), absl::StatusCode::kDataLoss);
  Bytes v2 = *[] {
    RecordBatchBuilder b;
    b.Add(0, std::nullopt, AsBytes("v"));
    return b.Build();
  }();
  EXPECT_EQ(status_of(v2).code(), absl::StatusCode::kUnimplemented);
}

TEST(LegacyMessageSet, InvalidWrappersAreRejected) {
  auto status_of = [](const Bytes& set) {
    absl::Status s;
    ReadAll(set, &s);
    return s;
  };
  Bytes inner = Entry(0, 1, 0, 1, B("a"), B("1"));
  // Nested compression.
  Bytes nested = Wrapper(0, 1, Compression::kGzip, Wrapper(0, 1, Compression::kGzip, inner));
  EXPECT_EQ(status_of(nested).code(), absl::StatusCode::kInvalidArgument);
  // Inner magic differs from the wrapper's.
  EXPECT_EQ(status_of(Wrapper(0, 0, Compression::kGzip, inner)).code(),
            absl::StatusCode::kInvalidArgument);
  // No inner messages; null value; garbage value; a truncated inner set.
  EXPECT_EQ(status_of(Wrapper(0, 1, Compression::kGzip, {})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status_of(Entry(0, 1, 1, 0, std::nullopt, std::nullopt)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(status_of(Entry(0, 1, 1, 0, std::nullopt, B("not gzip at all"))).code(),
            absl::StatusCode::kDataLoss);
  Bytes cut(inner.begin(), inner.end() - 1);
  EXPECT_EQ(status_of(Wrapper(0, 1, Compression::kGzip, cut)).code(), absl::StatusCode::kDataLoss);
}

TEST(LegacyMessageSet, DecompressionBombIsRejected) {
  Bytes big = Entry(0, 1, 0, 1, std::nullopt, Bytes(10 << 20, 0));
  absl::Status s;
  ReadAll(Wrapper(0, 1, Compression::kGzip, big), &s,
          LegacyValidation{.max_decompressed_size = 1 << 20});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
}

}  // namespace
}  // namespace fjord::protocol
