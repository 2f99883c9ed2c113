#include "fjord/protocol/record_batch_builder.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "fjord/base/endian.h"
#include "fjord/base/varint.h"

namespace fjord::protocol {
namespace {

void PutSigned32(std::vector<uint8_t>* out, int32_t v) {
  uint8_t buf[varint::kMaxVarint32Bytes];
  size_t n = varint::PutUnsigned(buf, varint::ZigZagEncode32(v));
  out->insert(out->end(), buf, buf + n);
}

void PutSigned64(std::vector<uint8_t>* out, int64_t v) {
  uint8_t buf[varint::kMaxVarint64Bytes];
  size_t n = varint::PutUnsigned(buf, varint::ZigZagEncode64(v));
  out->insert(out->end(), buf, buf + n);
}

size_t BytesSize(const OptionalBytes& b) {
  if (!b) return varint::SignedSize32(-1);
  return varint::SignedSize32(static_cast<int32_t>(b->size())) + b->size();
}

void PutBytes(std::vector<uint8_t>* out, const OptionalBytes& b) {
  if (!b) {
    PutSigned32(out, -1);
    return;
  }
  PutSigned32(out, static_cast<int32_t>(b->size()));
  out->insert(out->end(), b->begin(), b->end());
}

// Appends one encoded record (Length prefix first) to out.
void EncodeRecord(std::vector<uint8_t>* out, int64_t timestamp_delta, int32_t offset_delta,
                  const OptionalBytes& key, const OptionalBytes& value,
                  std::span<const RecordHeader> headers) {
  size_t body = 1 + varint::SignedSize64(timestamp_delta) + varint::SignedSize32(offset_delta) +
                BytesSize(key) + BytesSize(value) +
                varint::SignedSize32(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) body += BytesSize(AsBytes(h.key)) + BytesSize(h.value);
  PutSigned32(out, static_cast<int32_t>(body));
  out->push_back(0);  // record attributes: unused
  PutSigned64(out, timestamp_delta);
  PutSigned32(out, offset_delta);
  PutBytes(out, key);
  PutBytes(out, value);
  PutSigned32(out, static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    PutBytes(out, AsBytes(h.key));
    PutBytes(out, h.value);
  }
}

}  // namespace

void RecordBatchBuilder::Add(int64_t timestamp, OptionalBytes key, OptionalBytes value,
                             std::span<const RecordHeader> headers) {
  // Cannot fail: the next delta always exceeds the last.
  (void)AddWithOffsetDelta(last_offset_delta_ + 1, timestamp, key, value, headers);
}

absl::Status RecordBatchBuilder::AddWithOffsetDelta(int32_t offset_delta, int64_t timestamp,
                                                    OptionalBytes key, OptionalBytes value,
                                                    std::span<const RecordHeader> headers) {
  if (offset_delta <= last_offset_delta_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offset delta ", offset_delta, " does not exceed the previous ", last_offset_delta_));
  }
  if (count_ == 0) base_timestamp_ = timestamp;
  max_timestamp_ = count_ == 0 ? timestamp : std::max(max_timestamp_, timestamp);
  // Kafka's producer computes the delta in 64 bits as well.
  int64_t delta = RecordBatchHeader::WrapAdd(timestamp, -base_timestamp_);
  EncodeRecord(&buffer_, delta, offset_delta, key, value, headers);
  last_offset_delta_ = offset_delta;
  ++count_;
  return absl::OkStatus();
}

absl::Status RecordBatchBuilder::FinishHeader(std::vector<uint8_t>* batch) const {
  if (count_ == 0) return absl::InvalidArgumentError("a record batch needs at least one record");
  if (batch->size() - kLogOverhead > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("record batch larger than 2 GiB");
  }
  RecordBatchHeader h;
  h.base_offset = base_offset_;
  h.batch_length = static_cast<int32_t>(batch->size() - kLogOverhead);
  h.partition_leader_epoch = leader_epoch_;
  h.magic = kMagicV2;
  h.attributes = static_cast<int16_t>(
      static_cast<int16_t>(compression_) |
      (timestamp_type_ == TimestampType::kLogAppendTime ? batch_attributes::kTimestampType : 0) |
      (transactional_ ? batch_attributes::kTransactional : 0) |
      (control_ ? batch_attributes::kControl : 0));
  h.last_offset_delta = last_offset_delta_;
  h.base_timestamp = base_timestamp_;
  h.max_timestamp = max_timestamp_;
  h.producer_id = producer_id_;
  h.producer_epoch = producer_epoch_;
  h.base_sequence = base_sequence_;
  h.records_count = count_;
  h.Encode(batch->data());
  be::Store32(batch->data() + batch_offsets::kCrc, ComputeBatchCrc(*batch));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> RecordBatchBuilder::BuildCompressed() const {
  if (count_ == 0) return absl::InvalidArgumentError("a record batch needs at least one record");
  absl::StatusOr<std::vector<uint8_t>> body =
      Compress(compression_, std::span<const uint8_t>(buffer_).subspan(kRecordBatchHeaderSize));
  if (!body.ok()) return body.status();
  std::vector<uint8_t> batch;
  batch.reserve(kRecordBatchHeaderSize + body->size());
  batch.resize(kRecordBatchHeaderSize);
  batch.insert(batch.end(), body->begin(), body->end());
  if (absl::Status s = FinishHeader(&batch); !s.ok()) return s;
  return batch;
}

absl::StatusOr<std::vector<uint8_t>> RecordBatchBuilder::Build() const& {
  if (compression_ != Compression::kNone) return BuildCompressed();
  std::vector<uint8_t> batch = buffer_;
  if (absl::Status s = FinishHeader(&batch); !s.ok()) return s;
  return batch;
}

absl::StatusOr<std::vector<uint8_t>> RecordBatchBuilder::Build() && {
  if (compression_ != Compression::kNone) return BuildCompressed();
  if (absl::Status s = FinishHeader(&buffer_); !s.ok()) return s;
  return std::move(buffer_);
}

std::vector<uint8_t> BuildControlBatch(Offset base_offset, ProducerId producer_id,
                                       ProducerEpoch producer_epoch, EndTxnMarker marker,
                                       int64_t timestamp, LeaderEpoch leader_epoch) {
  uint8_t key[4];
  be::Store16(key, 0);  // version
  be::Store16(key + 2, static_cast<uint16_t>(marker.type));
  uint8_t value[6];
  be::Store16(value, 0);  // version
  be::Store32(value + 2, static_cast<uint32_t>(marker.coordinator_epoch));
  RecordBatchBuilder b(base_offset);
  // Markers carry no sequence: base sequence stays -1 (Kafka's MemoryRecords
  // .withEndTransactionMarker).
  b.SetProducer(producer_id, producer_epoch, -1)
      .SetTransactional(true)
      .SetControl(true)
      .SetPartitionLeaderEpoch(leader_epoch);
  b.Add(timestamp, std::span<const uint8_t>(key), std::span<const uint8_t>(value));
  // An uncompressed one-record batch cannot fail to build.
  return *std::move(b).Build();
}

absl::StatusOr<int16_t> ParseControlRecordType(const Record& record) {
  if (!record.key || record.key->size() < 4) {
    return absl::InvalidArgumentError("control record key shorter than 4 bytes");
  }
  int16_t version = static_cast<int16_t>(be::Load16(record.key->data()));
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat("control record key version ", version));
  }
  return static_cast<int16_t>(be::Load16(record.key->data() + 2));
}

absl::StatusOr<EndTxnMarker> ParseEndTxnMarker(const Record& record) {
  absl::StatusOr<int16_t> type = ParseControlRecordType(record);
  if (!type.ok()) return type.status();
  if (*type != static_cast<int16_t>(ControlRecordType::kAbort) &&
      *type != static_cast<int16_t>(ControlRecordType::kCommit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control record type ", *type, " is not a transaction marker"));
  }
  if (!record.value || record.value->size() < 6) {
    return absl::InvalidArgumentError("transaction marker value shorter than 6 bytes");
  }
  if (int16_t version = static_cast<int16_t>(be::Load16(record.value->data())); version < 0) {
    return absl::InvalidArgumentError(absl::StrCat("transaction marker version ", version));
  }
  return EndTxnMarker{static_cast<ControlRecordType>(*type),
                      static_cast<int32_t>(be::Load32(record.value->data() + 2))};
}

}  // namespace fjord::protocol
