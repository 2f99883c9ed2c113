#include "fjord/base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace fjord::crc32c {
namespace {

uint32_t Of(const std::string& s) {
  return Value(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Of(""), 0u);
  EXPECT_EQ(Of("123456789"), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF);
  EXPECT_EQ(Value(zeros), 0x8A9136AAu);
  EXPECT_EQ(Value(ones), 0x62A8AB43u);
  std::vector<uint8_t> ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
}

TEST(Crc32c, HardwareMatchesPortableAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(64 * 1024 + 64);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t len = 0; len <= 4096; ++len) {
    size_t off = len % 61;
    ASSERT_EQ(Extend(0, buf.data() + off, len), ExtendPortable(0, buf.data() + off, len)) << len;
  }
  // Long buffers take the three-stream path: lengths around its stripe boundaries.
  for (size_t len : {12287u, 12288u, 12289u, 24576u, 40000u, 65536u}) {
    ASSERT_EQ(Extend(0, buf.data() + 3, len), ExtendPortable(0, buf.data() + 3, len)) << len;
  }
}

TEST(Crc32c, ExtendChainsLikeOneBuffer) {
  std::vector<uint8_t> buf(50000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 31 + 3);
  uint32_t whole = Value(buf);
  for (size_t cut : {0u, 1u, 7u, 4096u, 12288u, 30001u, 50000u}) {
    uint32_t c = Extend(0, buf.data(), cut);
    c = Extend(c, buf.data() + cut, buf.size() - cut);
    EXPECT_EQ(c, whole) << cut;
    uint32_t p = ExtendPortable(0, buf.data(), cut);
    EXPECT_EQ(ExtendPortable(p, buf.data() + cut, buf.size() - cut), whole) << cut;
  }
}

TEST(Crc32c, ReportsWhetherHardwareIsUsed) {
#if defined(__x86_64__)
  EXPECT_EQ(HardwareAccelerated(), static_cast<bool>(__builtin_cpu_supports("sse4.2")));
#else
  EXPECT_FALSE(HardwareAccelerated());
#endif
}

}  // namespace
}  // namespace fjord::crc32c
