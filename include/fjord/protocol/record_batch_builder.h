#pragma once
// Writes RecordBatch v2 batches: RecordBatchBuilder for data batches, BuildControlBatch
// for transaction markers (KIP-98). The builder is a plain value owned by its caller; it
// copies keys, values and headers as they are added.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/protocol/compression.h"
#include "fjord/protocol/record_batch.h"

namespace fjord::protocol {

// Bytes of a key, value or header value; std::nullopt is null (distinct from empty).
using OptionalBytes = std::optional<std::span<const uint8_t>>;

// Views a string's bytes (tests and callers holding text).
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class RecordBatchBuilder {
 public:
  // The batch is built in one buffer that starts with room for the header.
  explicit RecordBatchBuilder(Offset base_offset = Offset(0))
      : base_offset_(base_offset), buffer_(kRecordBatchHeaderSize) {}

  RecordBatchBuilder& SetProducer(ProducerId id, ProducerEpoch epoch, int32_t base_sequence) {
    producer_id_ = id;
    producer_epoch_ = epoch;
    base_sequence_ = base_sequence;
    return *this;
  }
  RecordBatchBuilder& SetTransactional(bool t) {
    transactional_ = t;
    return *this;
  }
  RecordBatchBuilder& SetTimestampType(TimestampType t) {
    timestamp_type_ = t;
    return *this;
  }
  RecordBatchBuilder& SetCompression(Compression c) {
    compression_ = c;
    return *this;
  }
  RecordBatchBuilder& SetPartitionLeaderEpoch(LeaderEpoch e) {
    leader_epoch_ = e;
    return *this;
  }
  // Marks the batch as a control batch (its records must be control records).
  RecordBatchBuilder& SetControl(bool c) {
    control_ = c;
    return *this;
  }

  // Appends a record at the next offset delta (0, 1, 2, ...).
  void Add(int64_t timestamp, OptionalBytes key, OptionalBytes value,
           std::span<const RecordHeader> headers = {});
  // Appends a record at an explicit offset delta, which must exceed the previous one
  // (compacted batches have gaps). Returns kInvalidArgument otherwise.
  absl::Status AddWithOffsetDelta(int32_t offset_delta, int64_t timestamp, OptionalBytes key,
                                  OptionalBytes value, std::span<const RecordHeader> headers = {});

  // Makes room for about `bytes` of records, when the caller knows the batch's size.
  void Reserve(size_t bytes) { buffer_.reserve(kRecordBatchHeaderSize + bytes); }

  size_t record_count() const { return static_cast<size_t>(count_); }
  // Bytes of the uncompressed records so far (the batch is 61 bytes more).
  size_t records_size() const { return buffer_.size() - kRecordBatchHeaderSize; }

  // The batch: header with LastOffsetDelta, timestamps and CRC filled in. Fails with
  // kInvalidArgument when no record was added, kInternal on a codec failure. The rvalue
  // form hands over the builder's buffer instead of copying it (uncompressed batches).
  absl::StatusOr<std::vector<uint8_t>> Build() const&;
  absl::StatusOr<std::vector<uint8_t>> Build() &&;

 private:
  Offset base_offset_;
  ProducerId producer_id_{-1};
  ProducerEpoch producer_epoch_{-1};
  int32_t base_sequence_ = -1;
  bool transactional_ = false;
  bool control_ = false;
  TimestampType timestamp_type_ = TimestampType::kCreateTime;
  Compression compression_ = Compression::kNone;
  LeaderEpoch leader_epoch_{-1};

  // Writes the header into batch[0, 61) (batch holds header room + records body).
  absl::Status FinishHeader(std::vector<uint8_t>* batch) const;
  // The compressed batch: a new buffer.
  absl::StatusOr<std::vector<uint8_t>> BuildCompressed() const;

  std::vector<uint8_t> buffer_;  // 61 bytes of header room, then the encoded records
  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  int64_t base_timestamp_ = kNoTimestamp;
  int64_t max_timestamp_ = kNoTimestamp;
};

// KIP-98 transaction markers: the type of a control record's key.
enum class ControlRecordType : int16_t { kAbort = 0, kCommit = 1 };

struct EndTxnMarker {
  ControlRecordType type = ControlRecordType::kAbort;
  int32_t coordinator_epoch = 0;
  bool operator==(const EndTxnMarker&) const = default;
};

// A transactional control batch with one marker record: key = int16 version 0 + int16
// type; value = int16 version 0 + int32 coordinator epoch.
std::vector<uint8_t> BuildControlBatch(Offset base_offset, ProducerId producer_id,
                                       ProducerEpoch producer_epoch, EndTxnMarker marker,
                                       int64_t timestamp,
                                       LeaderEpoch leader_epoch = LeaderEpoch(-1));

// The control type of a control record's key (at least 4 bytes: version, type). Types
// other than ABORT/COMMIT (KRaft's 2..6) are returned as their number.
absl::StatusOr<int16_t> ParseControlRecordType(const Record& record);
// Reads a transaction marker from a control record; kInvalidArgument if it is none.
absl::StatusOr<EndTxnMarker> ParseEndTxnMarker(const Record& record);

}  // namespace fjord::protocol
