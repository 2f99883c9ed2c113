#include "fjord/base/varint.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "fjord/base/types.h"

namespace fjord::varint {
namespace {

TEST(Varint, UnsignedRoundTripsAtEveryWidthBoundary) {
  for (uint64_t v :
       std::vector<uint64_t>{0, 1, 127, 128, 16383, 16384, (1u << 21) - 1, 1u << 21, (1u << 28) - 1,
                             1u << 28, 0xFFFFFFFFu, std::numeric_limits<uint64_t>::max()}) {
    uint8_t buf[kMaxVarint64Bytes];
    size_t n = PutUnsigned(buf, v);
    EXPECT_EQ(n, UnsignedSize(v));
    uint64_t back = 0;
    EXPECT_EQ(GetUnsigned(buf, buf + n, &back, kMaxVarint64Bytes), n);
    EXPECT_EQ(back, v);
  }
}

TEST(Varint, ZigZagMapsSmallMagnitudesToSmallCodes) {
  EXPECT_EQ(ZigZagEncode32(0), 0u);
  EXPECT_EQ(ZigZagEncode32(-1), 1u);
  EXPECT_EQ(ZigZagEncode32(1), 2u);
  EXPECT_EQ(ZigZagEncode32(std::numeric_limits<int32_t>::min()), 0xFFFFFFFFu);
  for (int32_t v : {0, -1, 1, -64, 64, std::numeric_limits<int32_t>::max(),
                    std::numeric_limits<int32_t>::min()}) {
    EXPECT_EQ(ZigZagDecode32(ZigZagEncode32(v)), v);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(v)), v);
    uint8_t buf[kMaxVarint64Bytes];
    size_t n = PutUnsigned(buf, ZigZagEncode64(v));
    int64_t back = 0;
    EXPECT_EQ(GetSigned64(buf, buf + n, &back), n);
    EXPECT_EQ(back, v);
  }
}

TEST(Varint, TruncatedInputReturnsZero) {
  uint8_t buf[] = {0x80, 0x80};
  uint32_t v = 0;
  EXPECT_EQ(GetUnsigned32(buf, buf + 2, &v), 0u);
  EXPECT_EQ(GetUnsigned32(buf, buf, &v), 0u);
}

TEST(Varint, OverlongEncodingsAreRejected) {
  uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  uint32_t v = 0;
  EXPECT_EQ(GetUnsigned32(six, six + 6, &v), 0u);
  uint8_t too_big[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x1F};  // more than 32 bits
  EXPECT_EQ(GetUnsigned32(too_big, too_big + 5, &v), 0u);
  uint8_t max32[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
  EXPECT_EQ(GetUnsigned32(max32, max32 + 5, &v), 5u);
  EXPECT_EQ(v, 0xFFFFFFFFu);
  uint8_t eleven[11] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  int64_t l = 0;
  EXPECT_EQ(GetSigned64(eleven, eleven + 11, &l), 0u);
}

TEST(NamedType, StrongTypesCompareAndDoNotMix) {
  Offset a(5), b(7);
  EXPECT_LT(a, b);
  EXPECT_EQ(b - a, 2);
  EXPECT_EQ(a + 2, b);
  static_assert(!std::is_convertible_v<Offset, LeaderEpoch>);
  static_assert(!std::is_convertible_v<int64_t, Offset>);
}

}  // namespace
}  // namespace fjord::varint
