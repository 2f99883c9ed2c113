#pragma once
// Read-only magic 0 and 1 message sets (Kafka before 0.11; Produce <= v2, Fetch <= v3, and
// old segments). Each entry of the set:
//
//   offset int64 | message_size int32 | crc uint32 | magic int8 | attributes int8 |
//   [timestamp int64, magic 1 only] | key int32-length bytes | value int32-length bytes
//
// The CRC is zlib's CRC-32 of magic..end. Attributes bits 0-2 are the codec (none, gzip,
// snappy, lz4); bit 3 (magic 1) is the timestamp type. A compressed "wrapper" message holds
// in its value a compressed message set of inner messages, which may not be compressed
// again. For magic 1 the inner offsets are relative: the wrapper carries the absolute
// offset of the last inner message (KIP-31); with LogAppendTime the wrapper's timestamp
// replaces the inner ones (KIP-32).
//
// Errors follow record_batch.h's code mapping (kDataLoss = CORRUPT_MESSAGE, ...).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "fjord/base/types.h"
#include "fjord/protocol/compression.h"
#include "fjord/protocol/record_batch.h"

namespace fjord::protocol {

inline constexpr size_t kLegacyMinMessageSizeV0 = 14;  // crc magic attrs keylen valuelen
inline constexpr size_t kLegacyMinMessageSizeV1 = 22;  // + timestamp

struct LegacyMessage {
  Offset offset{0};
  int8_t magic = 0;
  int8_t attributes = 0;
  uint32_t crc = 0;
  // Magic 1 only; -1 and std::nullopt for magic 0.
  int64_t timestamp = kNoTimestamp;
  std::optional<TimestampType> timestamp_type;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;
  // True for a message that came out of a compressed wrapper.
  bool inner = false;

  Compression compression() const { return static_cast<Compression>(attributes & 0x07); }
};

struct LegacyValidation {
  // A wrapper's inner set may not decompress to more than this.
  size_t max_decompressed_size = 64u << 20;
  // Larger entries fail with kResourceExhausted.
  size_t max_message_size = static_cast<size_t>(std::numeric_limits<int32_t>::max());
  bool verify_crc = true;
};

// Walks the messages of a magic 0/1 set, descending one level into compressed wrappers
// (yielding the inner messages, not the wrapper). The set's bytes must outlive the
// iterator; a message's spans are valid until the next call to Next(). A truncated entry
// at the end is reported by has_partial_tail(), as for RecordBatchIterator.
class LegacyMessageSetIterator {
 public:
  explicit LegacyMessageSetIterator(std::span<const uint8_t> bytes, LegacyValidation v = {})
      : data_(bytes), validation_(v) {}

  bool Next();
  const LegacyMessage& message() const { return message_; }
  const absl::Status& status() const { return status_; }
  bool has_partial_tail() const { return partial_tail_; }

 private:
  bool Fail(absl::Status s);
  bool ExpandWrapper(const LegacyMessage& wrapper, size_t position);

  std::span<const uint8_t> data_;
  LegacyValidation validation_;
  size_t pos_ = 0;
  LegacyMessage message_;
  std::vector<uint8_t> inner_buffer_;
  std::vector<LegacyMessage> inner_;
  size_t inner_next_ = 0;
  absl::Status status_;
  bool partial_tail_ = false;
  bool done_ = false;
};

}  // namespace fjord::protocol
