#include "fjord/base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace fjord::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // reflected Castagnoli polynomial

// Slicing-by-8 tables: kTables[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}
constexpr auto kTables = MakeTables();

uint32_t ExtendTable(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  return ~c;
}

#if defined(__x86_64__)

// Multiplies a (a polynomial mod P, reflected) by x^(8*len) using the zero-extension
// operator tables below, so three CRC streams computed in parallel can be joined.
// ShiftTables[i] applies "append 2^i zero bytes" ... built once at start-up.
struct ShiftTable {
  // Applying the operator to a 32-bit CRC value: XOR of one table entry per nibble.
  uint32_t t[8][16];
  uint32_t Apply(uint32_t crc) const {
    uint32_t r = 0;
    for (int i = 0; i < 8; ++i) r ^= t[i][(crc >> (4 * i)) & 0xF];
    return r;
  }
};

// The operator that appends `n` zero bytes to a raw (non-inverted) CRC state.
ShiftTable MakeShift(size_t n) {
  // Build the 32x32 GF(2) matrix of "append one zero byte", square it up to n bytes.
  auto one_byte = [](uint32_t v) {
    for (int i = 0; i < 8; ++i) v = (v >> 1) ^ ((v & 1) ? kPoly : 0);
    return v;
  };
  // column j of the operator = operator applied to bit j.
  std::array<uint32_t, 32> op{}, result{};
  for (int j = 0; j < 32; ++j) op[j] = one_byte(1u << j);
  for (int j = 0; j < 32; ++j) result[j] = 1u << j;  // identity
  auto apply = [](const std::array<uint32_t, 32>& m, uint32_t v) {
    uint32_t r = 0;
    for (int j = 0; v; ++j, v >>= 1) {
      if (v & 1) r ^= m[j];
    }
    return r;
  };
  auto compose = [&](const std::array<uint32_t, 32>& a, const std::array<uint32_t, 32>& b) {
    std::array<uint32_t, 32> c{};  // c = a after b
    for (int j = 0; j < 32; ++j) c[j] = apply(a, b[j]);
    return c;
  };
  while (n) {
    if (n & 1) result = compose(op, result);
    op = compose(op, op);
    n >>= 1;
  }
  ShiftTable t{};
  for (int i = 0; i < 8; ++i) {
    for (uint32_t nib = 0; nib < 16; ++nib) t.t[i][nib] = apply(result, nib << (4 * i));
  }
  return t;
}

constexpr size_t kStripe = 4096;  // bytes per stream per round (three streams)
const ShiftTable& StripeShift() {
  static const ShiftTable t = MakeShift(kStripe);
  return t;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint64_t c = ~crc & 0xFFFFFFFFu;
  // Three independent streams hide the instruction's 3-cycle latency; their states are
  // joined with the zero-extension operator (the CRC of A||B = shift(crc A) ^ crc B).
  if (n >= 3 * kStripe) {
    const ShiftTable& shift = StripeShift();
    while (n >= 3 * kStripe) {
      uint64_t c1 = 0, c2 = 0;
      const uint8_t* p1 = p + kStripe;
      const uint8_t* p2 = p + 2 * kStripe;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t a, b, d;
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, p1 + i, 8);
        std::memcpy(&d, p2 + i, 8);
        c = _mm_crc32_u64(c, a);
        c1 = _mm_crc32_u64(c1, b);
        c2 = _mm_crc32_u64(c2, d);
      }
      c = shift.Apply(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
      c = shift.Apply(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c2);
      p += 3 * kStripe;
      n -= 3 * kStripe;
    }
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool DetectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#else
bool DetectHardware() { return false; }
uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) { return ExtendTable(crc, p, n); }
#endif

const bool kHardware = DetectHardware();

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n) {
  return ExtendTable(crc, data, n);
}

uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n) {
  return kHardware ? ExtendHardware(crc, data, n) : ExtendTable(crc, data, n);
}

bool HardwareAccelerated() { return kHardware; }

}  // namespace fjord::crc32c
