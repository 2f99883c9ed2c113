#pragma once
// RecordBatch v2 (magic 2): the unit of Produce, Fetch and `.log` segments (README
// "RecordBatch v2"). This header reads batches; record_batch_builder.h writes them and
// legacy_message_set.h reads magic 0/1.
//
// Everything here is a pure function of bytes the caller owns: views point into the
// caller's buffer, which must outlive them. Nothing is thread-affine.
//
// Errors are absl::Status values whose message says which check failed and at which byte
// of the input. The broker maps codes to Kafka errors as follows:
//   kDataLoss          -> CORRUPT_MESSAGE (CRC, framing, lengths, truncation, bad magic,
//                         undecodable compressed data)
//   kInvalidArgument   -> INVALID_RECORD  (well-framed but invalid contents: attributes,
//                         counts, offset deltas, record fields)
//   kResourceExhausted -> MESSAGE_TOO_LARGE / CORRUPT_MESSAGE (batch over the size limit,
//                         records decompress past the caller's limit)
//   kUnimplemented     -> a magic 0/1 message set where magic 2 was required

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/protocol/compression.h"

namespace fjord::protocol {

enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

inline constexpr int8_t kMagicV2 = 2;
inline constexpr size_t kRecordBatchHeaderSize = 61;
// BaseOffset + BatchLength: the bytes before what BatchLength counts.
inline constexpr size_t kLogOverhead = 12;
inline constexpr int32_t kMinBatchLength = kRecordBatchHeaderSize - kLogOverhead;  // 49
inline constexpr int64_t kNoTimestamp = -1;

// Byte positions of the header fields (README table).
namespace batch_offsets {
inline constexpr size_t kBaseOffset = 0;
inline constexpr size_t kBatchLength = 8;
inline constexpr size_t kPartitionLeaderEpoch = 12;
inline constexpr size_t kMagic = 16;
inline constexpr size_t kCrc = 17;
inline constexpr size_t kAttributes = 21;  // the CRC covers from here to the end
inline constexpr size_t kLastOffsetDelta = 23;
inline constexpr size_t kBaseTimestamp = 27;
inline constexpr size_t kMaxTimestamp = 35;
inline constexpr size_t kProducerId = 43;
inline constexpr size_t kProducerEpoch = 51;
inline constexpr size_t kBaseSequence = 53;
inline constexpr size_t kRecordsCount = 57;
}  // namespace batch_offsets

// Attribute bits of a v2 batch.
namespace batch_attributes {
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampType = 0x08;
inline constexpr int16_t kTransactional = 0x10;
inline constexpr int16_t kControl = 0x20;
inline constexpr int16_t kDeleteHorizon = 0x40;  // KIP-534
inline constexpr int16_t kUnused = static_cast<int16_t>(0xFF80);
}  // namespace batch_attributes

// The 61-byte header of a v2 batch, decoded. A plain value.
struct RecordBatchHeader {
  Offset base_offset{0};
  int32_t batch_length = 0;
  LeaderEpoch partition_leader_epoch{-1};
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = kNoTimestamp;
  int64_t max_timestamp = kNoTimestamp;
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  Compression compression() const {
    return static_cast<Compression>(attributes & batch_attributes::kCompressionMask);
  }
  TimestampType timestamp_type() const {
    return (attributes & batch_attributes::kTimestampType) ? TimestampType::kLogAppendTime
                                                           : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return attributes & batch_attributes::kTransactional; }
  bool is_control() const { return attributes & batch_attributes::kControl; }
  bool has_delete_horizon() const { return attributes & batch_attributes::kDeleteHorizon; }
  // KIP-534: with bit 6 set, BaseTimestamp is the delete horizon, not a record time.
  std::optional<int64_t> delete_horizon_ms() const {
    if (!has_delete_horizon()) return std::nullopt;
    return base_timestamp;
  }
  bool is_idempotent() const { return producer_id.value >= 0; }
  // Wrapping arithmetic: a hostile BaseOffset must not be undefined behaviour.
  Offset last_offset() const { return Offset(WrapAdd(base_offset.value, last_offset_delta)); }
  Offset next_offset() const { return Offset(WrapAdd(last_offset().value, 1)); }
  static constexpr int64_t WrapAdd(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  }
  // Sequence numbers wrap at INT32_MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence).
  int32_t last_sequence() const;
  size_t size_in_bytes() const { return kLogOverhead + static_cast<size_t>(batch_length); }

  // Reads the fields from 61 bytes at p (no checks).
  static RecordBatchHeader Decode(const uint8_t* p);
  // Writes the fields to 61 bytes at p, CRC included as it is in `crc`.
  void Encode(uint8_t* p) const;

  bool operator==(const RecordBatchHeader&) const = default;
};

struct BatchValidation {
  // Larger batches fail with kResourceExhausted (the broker's message.max.bytes).
  size_t max_batch_size = static_cast<size_t>(std::numeric_limits<int32_t>::max());
  // Produce path (LogValidator.validateBatch): records_count > 0 and exactly
  // last_offset_delta + 1. Otherwise (fetched or on-disk batches, which compaction may
  // have thinned) 0 <= records_count <= last_offset_delta + 1.
  bool require_dense_offsets = false;
  bool verify_crc = true;
  // A client's produce: attribute bits 7-15 are ignored (Kafka gives them no meaning); the
  // leader clears them before it writes the batch. Anywhere else they are refused.
  bool ignore_unused_attributes = false;
};

// A validated batch inside a caller's buffer.
class RecordBatchView {
 public:
  RecordBatchView() = default;
  RecordBatchView(const RecordBatchHeader& h, std::span<const uint8_t> bytes, size_t position)
      : header_(h), bytes_(bytes), position_(position) {}

  const RecordBatchHeader& header() const { return header_; }
  // The whole batch, header included.
  std::span<const uint8_t> bytes() const { return bytes_; }
  // What follows RecordsCount: the records, or one compressed stream of them.
  std::span<const uint8_t> records_data() const { return bytes_.subspan(kRecordBatchHeaderSize); }
  // Where the batch starts in the buffer it was parsed from.
  size_t position() const { return position_; }

 private:
  RecordBatchHeader header_;
  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

// Validates the batch at the start of `bytes` (which may hold more after it) without
// decompressing it: BatchLength (>= 49, fits, within the limit), magic 2, CRC-32C,
// attributes (bits 7-15 zero, known codec), RecordsCount against LastOffsetDelta.
// `position` is only used in error messages (the batch's place in a larger buffer).
absl::StatusOr<RecordBatchView> ParseRecordBatch(std::span<const uint8_t> bytes,
                                                 const BatchValidation& validation = {},
                                                 size_t position = 0);

// The CRC-32C a batch should carry: over bytes 21..end. `batch` must hold >= 21 bytes.
uint32_t ComputeBatchCrc(std::span<const uint8_t> batch);

// Walks the batches of a records buffer (a Produce or Fetch `records` field, a segment
// region). A truncated batch at the end is not an error here: Fetch responses may end
// in one (the broker cuts at max_bytes); the caller decides (Produce must reject it).
//
//   RecordBatchIterator it(records);
//   while (it.Next()) Use(it.batch());
//   if (!it.status().ok()) ...; if (it.has_partial_tail()) ...
class RecordBatchIterator {
 public:
  explicit RecordBatchIterator(std::span<const uint8_t> records, BatchValidation validation = {})
      : data_(records), validation_(validation) {}

  // True when batch() is the next valid batch. False at the end: status() is OK and the
  // buffer either ended cleanly or in a partial batch (has_partial_tail()); or status()
  // holds the first error, after which Next() keeps returning false.
  bool Next();
  const RecordBatchView& batch() const { return batch_; }
  const absl::Status& status() const { return status_; }
  bool has_partial_tail() const { return partial_tail_; }
  // Bytes consumed by the batches returned so far (where a partial tail starts).
  size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> data_;
  BatchValidation validation_;
  size_t pos_ = 0;
  RecordBatchView batch_;
  absl::Status status_;
  bool partial_tail_ = false;
  bool done_ = false;
};

// ---- patching on append ----------------------------------------------------------------
// These rewrite header fields of a batch in place; `batch` must be one whole batch that
// ParseRecordBatch accepted (they fail with kInvalidArgument below 61 bytes).

// BaseOffset is not covered by the CRC: no recomputation.
absl::Status SetBaseOffset(std::span<uint8_t> batch, Offset base_offset);
// PartitionLeaderEpoch is not covered by the CRC.
absl::Status SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch);
// log.message.timestamp.type=LogAppendTime: MaxTimestamp = append time, attribute bit 3
// set, CRC recomputed.
absl::Status SetLogAppendTime(std::span<uint8_t> batch, int64_t append_time_ms);
// Sets MaxTimestamp and the timestamp-type bit as given, and recomputes the CRC.
absl::Status SetMaxTimestamp(std::span<uint8_t> batch, TimestampType type, int64_t max_timestamp);
// Recomputes the CRC after any other change to bytes 21..end.
absl::Status UpdateCrc(std::span<uint8_t> batch);

// ---- records ---------------------------------------------------------------------------

// A header of a record: the key is a string, the value optional bytes.
struct RecordHeader {
  std::string_view key;
  std::optional<std::span<const uint8_t>> value;
};

// One record of a batch, with its absolute offset and timestamp. Key and value are
// std::nullopt when null and an empty span when empty. The spans point into the batch
// (uncompressed) or into the RecordReader's buffer (compressed).
struct Record {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  Offset offset{0};
  // BaseTimestamp + delta; the batch's MaxTimestamp when it is LogAppendTime.
  int64_t timestamp = kNoTimestamp;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;
  std::vector<RecordHeader> headers;
  // The encoded record, Length prefix included.
  std::span<const uint8_t> encoded;
};

class Inflater;

struct RecordValidation {
  // Records of a compressed batch may not decompress to more than this (in all, and so
  // any one record).
  size_t max_decompressed_size = 64u << 20;
  // Produce path: offset deltas must be 0, 1, 2, ... (Kafka's LogValidator). Otherwise
  // they must only increase and stay within LastOffsetDelta (compacted batches).
  bool require_dense_offsets = false;
};

// Reads the records of one batch. The batch's bytes must outlive the reader; records
// returned by record() are valid until the next call to Next().
//
//   RecordReader r(view);
//   while (r.Next()) Use(r.record());
//   if (!r.status().ok()) reject the batch;
class RecordReader {
 public:
  explicit RecordReader(const RecordBatchView& batch, RecordValidation validation = {});
  ~RecordReader();

  // True when record() is the next record. False at the end, with status() OK only if
  // the batch held exactly RecordsCount well-formed records and nothing after them.
  bool Next();
  const Record& record() const { return record_; }
  const absl::Status& status() const { return status_; }

 private:
  friend absl::StatusOr<std::vector<Record>> ReadAllRecords(const RecordBatchView&,
                                                            std::vector<uint8_t>*,
                                                            RecordValidation);
  bool Fail(absl::Status s);
  bool Start();
  bool ParseRecord(size_t at, size_t end);
  // Streaming: makes at least `need` bytes from pos_ readable in data_ (fewer only at the
  // end of the stream), moving what is unread to the front of the window first. False
  // after a failure (status_ set).
  bool Fill(size_t need);

  RecordBatchView batch_;
  RecordValidation validation_;
  // Compressed batches are read a window at a time (at most the largest record, however
  // large the batch inflates); ReadAllRecords decompresses the whole batch instead.
  bool stream_ = true;
  std::unique_ptr<Inflater> inflater_;
  bool eof_ = false;
  size_t inflated_ = 0;
  std::vector<uint8_t> decompressed_;
  std::span<const uint8_t> data_;  // the (uncompressed) records, or the window over them
  size_t pos_ = 0;
  int32_t read_ = 0;
  int64_t last_delta_ = -1;
  bool started_ = false;
  bool done_ = false;
  Record record_;
  absl::Status status_;
};

// Reads all records of a batch at once (tests, small batches). Spans in the records point
// into `batch` or, for compressed batches, into *storage, which must outlive them.
absl::StatusOr<std::vector<Record>> ReadAllRecords(const RecordBatchView& batch,
                                                   std::vector<uint8_t>* storage,
                                                   RecordValidation validation = {});

}  // namespace fjord::protocol
