#pragma once
// Variable-length integers of the Kafka formats.
//  - Unsigned varint (LEB128, 7 bits a byte, low group first): lengths and tags of the
//    flexible protocol encoding.
//  - Zig-zag varint/varlong: the fields of a record inside a RecordBatch.
// Decoders take a bounded input and return the number of bytes consumed, or 0 when the
// input is truncated or the value does not fit (over 5 bytes for 32 bits, 10 for 64 bits).

#include <cstddef>
#include <cstdint>

namespace fjord::varint {

constexpr size_t kMaxVarint32Bytes = 5;
constexpr size_t kMaxVarint64Bytes = 10;

constexpr uint32_t ZigZagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr int32_t ZigZagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

constexpr size_t UnsignedSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t SignedSize32(int32_t v) { return UnsignedSize(ZigZagEncode32(v)); }
constexpr size_t SignedSize64(int64_t v) { return UnsignedSize(ZigZagEncode64(v)); }

// Writes v at out (which must have room for UnsignedSize(v) bytes); returns bytes written.
inline size_t PutUnsigned(uint8_t* out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

// Reads an unsigned varint of at most max_bytes bytes from [p, end).
inline size_t GetUnsigned(const uint8_t* p, const uint8_t* end, uint64_t* out, size_t max_bytes) {
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes; ++i) {
    if (p + i >= end) return 0;
    uint8_t b = p[i];
    if (i == max_bytes - 1 && max_bytes == kMaxVarint32Bytes && (b & 0xF0) != 0) return 0;
    if (i == max_bytes - 1 && max_bytes == kMaxVarint64Bytes && (b & 0xFE) != 0) return 0;
    result |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = result;
      return i + 1;
    }
  }
  return 0;
}

inline size_t GetUnsigned32(const uint8_t* p, const uint8_t* end, uint32_t* out) {
  uint64_t v = 0;
  size_t n = GetUnsigned(p, end, &v, kMaxVarint32Bytes);
  *out = static_cast<uint32_t>(v);
  return n;
}
inline size_t GetSigned32(const uint8_t* p, const uint8_t* end, int32_t* out) {
  uint32_t v = 0;
  size_t n = GetUnsigned32(p, end, &v);
  *out = ZigZagDecode32(v);
  return n;
}
inline size_t GetSigned64(const uint8_t* p, const uint8_t* end, int64_t* out) {
  uint64_t v = 0;
  size_t n = GetUnsigned(p, end, &v, kMaxVarint64Bytes);
  *out = ZigZagDecode64(v);
  return n;
}

}  // namespace fjord::varint
