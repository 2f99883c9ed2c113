#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's
// RecordBatch v2 and of Fjord's own file formats. The implementation is picked once at
// start-up: the SSE4.2 crc32 instruction when the CPU has it, else a portable table.

#include <cstddef>
#include <cstdint>
#include <span>

namespace fjord::crc32c {

// Extends `crc` (0 for a fresh checksum) over data. Extend(Extend(0, a), b) == Value(a+b).
uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n);

inline uint32_t Value(const uint8_t* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::span<const uint8_t> s) { return Extend(0, s.data(), s.size()); }

// The portable implementation, always available (tests compare both).
uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n);

// True when Extend uses the hardware instruction on this machine.
bool HardwareAccelerated();

}  // namespace fjord::crc32c
