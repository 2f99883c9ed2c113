#pragma once
// The four record compression codecs of Kafka, in the exact stream formats Kafka clients
// write and read (README "RecordBatch v2", codec details):
//  - gzip: a standard gzip stream (concatenated members are accepted on input);
//  - snappy: snappy-java's "xerial" framing (magic 0x82 'SNAPPY' 0x00, int32 version 1,
//    int32 compatible version 1, then int32-length-prefixed raw snappy blocks) on output;
//    on input either that framing or one bare raw snappy block (librdkafka may send it);
//  - lz4: a standard LZ4 frame with independent blocks and no content size;
//  - zstd: a standard zstd frame, decompressed as a stream.
//
// Decompression is bounded: the caller says how many bytes the output may hold, and a
// stream that would produce more fails with kResourceExhausted (a decompression bomb)
// before more than max_output bytes (plus a small constant) are allocated. Corrupt or
// truncated input fails with kDataLoss. These are pure functions; they are thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::protocol {

// The codec ids of attribute bits 0-2 of a batch or legacy message.
enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd" (Kafka's compression.type names), or "unknown".
std::string_view CompressionName(Compression c);

// True for the ids 0..4.
constexpr bool IsKnownCompression(uint8_t id) { return id <= 4; }

// Compresses `in` as one stream of the codec's Kafka format. kNone copies. Fails only on
// a library error (kInternal) or an unknown codec (kInvalidArgument).
absl::StatusOr<std::vector<uint8_t>> Compress(Compression codec, std::span<const uint8_t> in);

// Decompresses all of `in` into *out (replacing its contents). Fails with
// kResourceExhausted when the output would exceed max_output bytes, kDataLoss when the
// input is corrupt, truncated or followed by garbage, kInvalidArgument for an unknown
// codec. On failure *out holds unspecified (but bounded) contents.
absl::Status Decompress(Compression codec, std::span<const uint8_t> in, size_t max_output,
                        std::vector<uint8_t>* out);

// LZ4 as written in magic 0 messages by Kafka before 0.10: the frame's header checksum
// was computed over the wrong bytes, so it is not verified. Otherwise like Decompress.
absl::Status DecompressLz4IgnoringHeaderChecksum(std::span<const uint8_t> in, size_t max_output,
                                                 std::vector<uint8_t>* out);

}  // namespace fjord::protocol
