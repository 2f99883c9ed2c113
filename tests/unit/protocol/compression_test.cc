#include "fjord/protocol/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "fjord/base/endian.h"

namespace fjord::protocol {
namespace {

constexpr Compression kCodecs[] = {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                                   Compression::kLz4, Compression::kZstd};
constexpr Compression kRealCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                                       Compression::kZstd};

// Compressible but not trivial: words from a small vocabulary with random bytes mixed in.
std::vector<uint8_t> Text(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"offset ", "leader ", "epoch ", "fjord ", "batch ", "record "};
  std::vector<uint8_t> out;
  out.reserve(n);
  while (out.size() < n) {
    const char* w = kWords[rng() % 6];
    out.insert(out.end(), w, w + std::strlen(w));
    if (rng() % 4 == 0) out.push_back(static_cast<uint8_t>(rng()));
  }
  out.resize(n);
  return out;
}

std::vector<uint8_t> MustCompress(Compression c, std::span<const uint8_t> in) {
  absl::StatusOr<std::vector<uint8_t>> out = Compress(c, in);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<uint8_t>{};
}

TEST(Compression, EveryCodecRoundTripsSmallAndLargeInputs) {
  for (Compression c : kCodecs) {
    for (size_t n :
         {size_t{0}, size_t{1}, size_t{100}, size_t{32768}, size_t{32769}, size_t{300000}}) {
      std::vector<uint8_t> in = Text(n, static_cast<uint32_t>(n));
      std::vector<uint8_t> z = MustCompress(c, in);
      std::vector<uint8_t> back;
      absl::Status s = Decompress(c, z, n, &back);
      ASSERT_TRUE(s.ok()) << CompressionName(c) << " " << n << ": " << s;
      EXPECT_EQ(back, in) << CompressionName(c) << " " << n;
    }
  }
}

TEST(Compression, GzipWritesAStandardGzipStream) {
  std::vector<uint8_t> in = Text(5000);
  std::vector<uint8_t> z = MustCompress(Compression::kGzip, in);
  ASSERT_GE(z.size(), 18u);
  EXPECT_EQ(z[0], 0x1f);
  EXPECT_EQ(z[1], 0x8b);
  // Decodable by zlib itself.
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  std::vector<uint8_t> out(in.size() + 10);
  zs.next_in = z.data();
  zs.avail_in = static_cast<uInt>(z.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  EXPECT_EQ(zs.total_out, in.size());
  inflateEnd(&zs);
}

TEST(Compression, GzipReadsConcatenatedMembersAndRejectsTrailingGarbage) {
  std::vector<uint8_t> a = Text(1000, 1), b = Text(2000, 2);
  std::vector<uint8_t> z = MustCompress(Compression::kGzip, a);
  std::vector<uint8_t> zb = MustCompress(Compression::kGzip, b);
  z.insert(z.end(), zb.begin(), zb.end());
  std::vector<uint8_t> out;
  ASSERT_TRUE(Decompress(Compression::kGzip, z, 1 << 20, &out).ok());
  std::vector<uint8_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(out, ab);
  z.push_back(0x00);
  EXPECT_EQ(Decompress(Compression::kGzip, z, 1 << 20, &out).code(), absl::StatusCode::kDataLoss);
}

TEST(Compression, SnappyWritesXerialFramingWith32KiBBlocks) {
  std::vector<uint8_t> in = Text(70000);
  std::vector<uint8_t> z = MustCompress(Compression::kSnappy, in);
  const uint8_t magic[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
  ASSERT_GE(z.size(), 16u);
  EXPECT_EQ(std::memcmp(z.data(), magic, 8), 0);
  EXPECT_EQ(be::Load32(z.data() + 8), 1u);
  EXPECT_EQ(be::Load32(z.data() + 12), 1u);
  // Three length-prefixed blocks (32768 + 32768 + 4464 bytes of input) fill the rest.
  size_t pos = 16, blocks = 0;
  while (pos < z.size()) {
    pos += 4 + be::Load32(z.data() + pos);
    ++blocks;
  }
  EXPECT_EQ(pos, z.size());
  EXPECT_EQ(blocks, 3u);
}

TEST(Compression, SnappyAcceptsABareRawBlock) {
  // A raw snappy block: varint length 5, then one literal of 5 bytes (tag (5-1)<<2).
  const uint8_t raw[] = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
  std::vector<uint8_t> out;
  ASSERT_TRUE(Decompress(Compression::kSnappy, raw, 100, &out).ok());
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello");
}

TEST(Compression, SnappyClaimedLengthIsCheckedBeforeAllocating) {
  // A raw block claiming 2^31 bytes of output in a few bytes of input.
  const uint8_t raw[] = {0x80, 0x80, 0x80, 0x80, 0x08, 0x00};
  std::vector<uint8_t> out;
  EXPECT_EQ(Decompress(Compression::kSnappy, raw, 1 << 20, &out).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_LT(out.capacity(), size_t{1} << 20);
  // The same block inside xerial framing.
  std::vector<uint8_t> framed = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0,
                                 0,    1,   0,   0,   0,   1,   0,   0, 0, 6};
  framed.insert(framed.end(), raw, raw + sizeof(raw));
  EXPECT_EQ(Decompress(Compression::kSnappy, framed, 1 << 20, &out).code(),
            absl::StatusCode::kResourceExhausted);
  // A xerial block length larger than the input, and a negative one.
  framed[16] = 0x7F;
  EXPECT_EQ(Decompress(Compression::kSnappy, framed, 1 << 20, &out).code(),
            absl::StatusCode::kDataLoss);
  framed[16] = 0xFF;
  EXPECT_EQ(Decompress(Compression::kSnappy, framed, 1 << 20, &out).code(),
            absl::StatusCode::kDataLoss);
}

TEST(Compression, Lz4WritesAStandardFrameWithIndependentBlocks) {
  std::vector<uint8_t> z = MustCompress(Compression::kLz4, Text(200000));
  ASSERT_GE(z.size(), 7u);
  EXPECT_EQ(z[0], 0x04);
  EXPECT_EQ(z[1], 0x22);
  EXPECT_EQ(z[2], 0x4D);
  EXPECT_EQ(z[3], 0x18);
  uint8_t flg = z[4];
  EXPECT_EQ(flg >> 6, 1);         // version 01
  EXPECT_TRUE(flg & 0x20);        // independent blocks
  EXPECT_FALSE(flg & 0x08);       // no content size
  EXPECT_EQ((z[5] >> 4) & 7, 4);  // 64 KiB blocks
}

TEST(Compression, Lz4BadHeaderChecksumIsRejectedUnlessIgnored) {
  std::vector<uint8_t> in = Text(3000);
  std::vector<uint8_t> z = MustCompress(Compression::kLz4, in);
  z[6] ^= 0x5A;  // FLG, BD, then HC at byte 6 (no content size, no dictionary id)
  std::vector<uint8_t> out;
  EXPECT_EQ(Decompress(Compression::kLz4, z, 1 << 20, &out).code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(DecompressLz4IgnoringHeaderChecksum(z, 1 << 20, &out).ok());
  EXPECT_EQ(out, in);
}

TEST(Compression, ZstdWritesAStandardFrame) {
  std::vector<uint8_t> z = MustCompress(Compression::kZstd, Text(1000));
  ASSERT_GE(z.size(), 4u);
  EXPECT_EQ(be::Load32(z.data()), 0x28B52FFDu);
}

TEST(Compression, DecompressionBombIsStoppedAtTheLimit) {
  std::vector<uint8_t> zeros(10 << 20, 0);
  constexpr size_t kLimit = 1 << 20;
  for (Compression c : kRealCodecs) {
    std::vector<uint8_t> z = MustCompress(c, zeros);
    ASSERT_LT(z.size(), zeros.size() / 10) << CompressionName(c);
    std::vector<uint8_t> out;
    absl::Status s = Decompress(c, z, kLimit, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << CompressionName(c) << s;
    // Never more than the limit plus the one byte that detects "over".
    EXPECT_LE(out.capacity(), kLimit + 1) << CompressionName(c);
  }
}

TEST(Compression, OutputExactlyAtTheLimitIsAccepted) {
  std::vector<uint8_t> in = Text(100000);
  for (Compression c : kCodecs) {
    std::vector<uint8_t> z = MustCompress(c, in), out;
    EXPECT_TRUE(Decompress(c, z, in.size(), &out).ok()) << CompressionName(c);
    EXPECT_EQ(out, in);
    EXPECT_EQ(Decompress(c, z, in.size() - 1, &out).code(), absl::StatusCode::kResourceExhausted)
        << CompressionName(c);
  }
}

TEST(Compression, TruncatedInputNeverYieldsTheOriginal) {
  std::vector<uint8_t> in = Text(20000);
  for (Compression c : kRealCodecs) {
    std::vector<uint8_t> z = MustCompress(c, in);
    for (size_t cut = 0; cut < z.size(); ++cut) {
      std::vector<uint8_t> out;
      absl::Status s =
          Decompress(c, std::span<const uint8_t>(z.data(), cut), in.size() + 100, &out);
      EXPECT_TRUE(!s.ok() || out != in) << CompressionName(c) << " cut at " << cut;
      if (c != Compression::kSnappy) {
        // Snappy's xerial framing can end at a block boundary; the others know their end.
        EXPECT_FALSE(s.ok()) << CompressionName(c) << " cut at " << cut;
      }
    }
  }
}

TEST(Compression, CorruptInputFailsWithoutCrashing) {
  std::mt19937 rng(42);
  std::vector<uint8_t> in = Text(5000);
  for (Compression c : kRealCodecs) {
    std::vector<uint8_t> z = MustCompress(c, in);
    for (int i = 0; i < 2000; ++i) {
      std::vector<uint8_t> bad = z;
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      std::vector<uint8_t> out;
      (void)Decompress(c, bad, 1 << 20, &out);  // any status, but bounded and no crash
      EXPECT_LE(out.size(), size_t{1} << 20);
    }
    // Pure noise, with and without the codec's magic in front.
    for (int i = 0; i < 500; ++i) {
      std::vector<uint8_t> noise(rng() % 200);
      for (auto& b : noise) b = static_cast<uint8_t>(rng());
      if (i % 2 && noise.size() >= 8) std::memcpy(noise.data(), z.data(), 8);
      std::vector<uint8_t> out;
      (void)Decompress(c, noise, 1 << 20, &out);
    }
  }
  // gzip's trailer CRC catches any flipped payload byte.
  std::vector<uint8_t> z = MustCompress(Compression::kGzip, in), out;
  z[z.size() / 2] ^= 0x01;
  EXPECT_EQ(Decompress(Compression::kGzip, z, 1 << 20, &out).code(), absl::StatusCode::kDataLoss);
}

TEST(Compression, UnknownCodecIsRejected) {
  std::vector<uint8_t> out;
  EXPECT_EQ(Decompress(static_cast<Compression>(5), {}, 10, &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Compress(static_cast<Compression>(7), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsKnownCompression(5));
  EXPECT_EQ(CompressionName(Compression::kZstd), "zstd");
}

}  // namespace
}  // namespace fjord::protocol
