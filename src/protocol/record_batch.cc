#include "fjord/protocol/record_batch.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fjord/base/crc32c.h"
#include "fjord/base/endian.h"
#include "fjord/base/varint.h"
#include "fjord/protocol/inflater.h"

namespace fjord::protocol {
namespace {

namespace off = batch_offsets;
namespace attr = batch_attributes;

// The smallest record: Length, Attributes, TimestampDelta, OffsetDelta, KeyLength,
// ValueLength and HeadersCount of one byte each.
constexpr size_t kMinRecordSize = 7;

std::string At(size_t position) { return absl::StrCat(" (batch at byte ", position, ")"); }

absl::Status BadMagic(int8_t magic, size_t position) {
  if (magic == 0 || magic == 1) {
    return absl::UnimplementedError(absl::StrCat(
        "magic ", magic, " message set where a v2 record batch was expected", At(position)));
  }
  return absl::DataLossError(absl::StrCat("invalid magic ", magic, At(position)));
}

}  // namespace

int32_t RecordBatchHeader::last_sequence() const {
  if (base_sequence < 0) return -1;
  int64_t last = static_cast<int64_t>(base_sequence) + last_offset_delta;
  if (last > std::numeric_limits<int32_t>::max()) {
    last -= static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1;
  }
  return static_cast<int32_t>(last);
}

RecordBatchHeader RecordBatchHeader::Decode(const uint8_t* p) {
  RecordBatchHeader h;
  h.base_offset = Offset(static_cast<int64_t>(be::Load64(p + off::kBaseOffset)));
  h.batch_length = static_cast<int32_t>(be::Load32(p + off::kBatchLength));
  h.partition_leader_epoch =
      LeaderEpoch(static_cast<int32_t>(be::Load32(p + off::kPartitionLeaderEpoch)));
  h.magic = static_cast<int8_t>(p[off::kMagic]);
  h.crc = be::Load32(p + off::kCrc);
  h.attributes = static_cast<int16_t>(be::Load16(p + off::kAttributes));
  h.last_offset_delta = static_cast<int32_t>(be::Load32(p + off::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(be::Load64(p + off::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(be::Load64(p + off::kMaxTimestamp));
  h.producer_id = ProducerId(static_cast<int64_t>(be::Load64(p + off::kProducerId)));
  h.producer_epoch = ProducerEpoch(static_cast<int16_t>(be::Load16(p + off::kProducerEpoch)));
  h.base_sequence = static_cast<int32_t>(be::Load32(p + off::kBaseSequence));
  h.records_count = static_cast<int32_t>(be::Load32(p + off::kRecordsCount));
  return h;
}

void RecordBatchHeader::Encode(uint8_t* p) const {
  be::Store64(p + off::kBaseOffset, static_cast<uint64_t>(base_offset.value));
  be::Store32(p + off::kBatchLength, static_cast<uint32_t>(batch_length));
  be::Store32(p + off::kPartitionLeaderEpoch, static_cast<uint32_t>(partition_leader_epoch.value));
  p[off::kMagic] = static_cast<uint8_t>(magic);
  be::Store32(p + off::kCrc, crc);
  be::Store16(p + off::kAttributes, static_cast<uint16_t>(attributes));
  be::Store32(p + off::kLastOffsetDelta, static_cast<uint32_t>(last_offset_delta));
  be::Store64(p + off::kBaseTimestamp, static_cast<uint64_t>(base_timestamp));
  be::Store64(p + off::kMaxTimestamp, static_cast<uint64_t>(max_timestamp));
  be::Store64(p + off::kProducerId, static_cast<uint64_t>(producer_id.value));
  be::Store16(p + off::kProducerEpoch, static_cast<uint16_t>(producer_epoch.value));
  be::Store32(p + off::kBaseSequence, static_cast<uint32_t>(base_sequence));
  be::Store32(p + off::kRecordsCount, static_cast<uint32_t>(records_count));
}

uint32_t ComputeBatchCrc(std::span<const uint8_t> batch) {
  return crc32c::Value(batch.data() + off::kAttributes, batch.size() - off::kAttributes);
}

absl::StatusOr<RecordBatchView> ParseRecordBatch(std::span<const uint8_t> bytes,
                                                 const BatchValidation& validation,
                                                 size_t position) {
  if (bytes.size() < kLogOverhead) {
    return absl::DataLossError(absl::StrCat("truncated batch: ", bytes.size(),
                                            " bytes, fewer than the 12 of offset and length",
                                            At(position)));
  }
  int32_t length = static_cast<int32_t>(be::Load32(bytes.data() + off::kBatchLength));
  if (length < kMinBatchLength) {
    return absl::DataLossError(absl::StrCat("BatchLength ", length, " is below the minimum ",
                                            kMinBatchLength, At(position)));
  }
  size_t size = kLogOverhead + static_cast<size_t>(length);
  if (size > validation.max_batch_size) {
    return absl::ResourceExhaustedError(absl::StrCat("batch of ", size,
                                                     " bytes exceeds the limit of ",
                                                     validation.max_batch_size, At(position)));
  }
  if (bytes.size() > off::kMagic && static_cast<int8_t>(bytes[off::kMagic]) != kMagicV2) {
    return BadMagic(static_cast<int8_t>(bytes[off::kMagic]), position);
  }
  if (size > bytes.size()) {
    return absl::DataLossError(absl::StrCat("truncated batch: BatchLength says ", size,
                                            " bytes but only ", bytes.size(), " are left",
                                            At(position)));
  }
  std::span<const uint8_t> batch = bytes.first(size);
  RecordBatchHeader h = RecordBatchHeader::Decode(batch.data());
  if (validation.verify_crc) {
    uint32_t crc = ComputeBatchCrc(batch);
    if (crc != h.crc) {
      return absl::DataLossError(absl::StrCat("CRC mismatch: the batch says 0x", absl::Hex(h.crc),
                                              ", its bytes 21..", size, " give 0x", absl::Hex(crc),
                                              At(position)));
    }
  }
  if ((h.attributes & attr::kUnused) && !validation.ignore_unused_attributes) {
    return absl::InvalidArgumentError(absl::StrCat("attributes 0x",
                                                   absl::Hex(static_cast<uint16_t>(h.attributes)),
                                                   " set unused bits 7-15", At(position)));
  }
  if (!IsKnownCompression(static_cast<uint8_t>(h.attributes & attr::kCompressionMask))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown compression codec ", h.attributes & attr::kCompressionMask, At(position)));
  }
  // LogValidator.validateBatch: the offset range and the count must agree.
  if (h.last_offset_delta < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative LastOffsetDelta ", h.last_offset_delta, At(position)));
  }
  int64_t span = static_cast<int64_t>(h.last_offset_delta) + 1;
  if (h.records_count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative RecordsCount ", h.records_count, At(position)));
  }
  if (validation.require_dense_offsets && (h.records_count == 0 || h.records_count != span)) {
    return absl::InvalidArgumentError(absl::StrCat("RecordsCount ", h.records_count,
                                                   " does not match the offset range of ", span,
                                                   " (LastOffsetDelta + 1)", At(position)));
  }
  if (h.records_count > span) {
    return absl::InvalidArgumentError(absl::StrCat("RecordsCount ", h.records_count,
                                                   " exceeds the offset range of ", span,
                                                   " (LastOffsetDelta + 1)", At(position)));
  }
  if (h.compression() == Compression::kNone &&
      static_cast<size_t>(h.records_count) > (size - kRecordBatchHeaderSize) / kMinRecordSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("RecordsCount ", h.records_count, " records cannot fit in ",
                     size - kRecordBatchHeaderSize, " bytes", At(position)));
  }
  return RecordBatchView(h, batch, position);
}

bool RecordBatchIterator::Next() {
  if (done_) return false;
  size_t left = data_.size() - pos_;
  if (left == 0) {
    done_ = true;
    return false;
  }
  std::span<const uint8_t> rest = data_.subspan(pos_);
  if (left >= kLogOverhead) {
    int32_t length = static_cast<int32_t>(be::Load32(rest.data() + off::kBatchLength));
    size_t size = kLogOverhead + static_cast<size_t>(std::max(length, 0));
    // A length that can never be valid, or a wrong magic, is corruption even in a tail.
    if (length >= kMinBatchLength && size <= validation_.max_batch_size && size > left &&
        (left <= off::kMagic || static_cast<int8_t>(rest[off::kMagic]) == kMagicV2)) {
      partial_tail_ = true;
      done_ = true;
      return false;
    }
  } else {
    partial_tail_ = true;
    done_ = true;
    return false;
  }
  absl::StatusOr<RecordBatchView> batch = ParseRecordBatch(rest, validation_, pos_);
  if (!batch.ok()) {
    status_ = batch.status();
    done_ = true;
    return false;
  }
  batch_ = *batch;
  pos_ += batch_.bytes().size();
  return true;
}

// ---- patching --------------------------------------------------------------------------

namespace {
absl::Status CheckPatchable(std::span<uint8_t> batch) {
  if (batch.size() < kRecordBatchHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot patch a batch of ", batch.size(), " bytes (header is 61)"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status SetBaseOffset(std::span<uint8_t> batch, Offset base_offset) {
  if (absl::Status s = CheckPatchable(batch); !s.ok()) return s;
  be::Store64(batch.data() + off::kBaseOffset, static_cast<uint64_t>(base_offset.value));
  return absl::OkStatus();
}

absl::Status SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch) {
  if (absl::Status s = CheckPatchable(batch); !s.ok()) return s;
  be::Store32(batch.data() + off::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch.value));
  return absl::OkStatus();
}

absl::Status UpdateCrc(std::span<uint8_t> batch) {
  if (absl::Status s = CheckPatchable(batch); !s.ok()) return s;
  be::Store32(batch.data() + off::kCrc, ComputeBatchCrc(batch));
  return absl::OkStatus();
}

absl::Status SetMaxTimestamp(std::span<uint8_t> batch, TimestampType type, int64_t max_timestamp) {
  if (absl::Status s = CheckPatchable(batch); !s.ok()) return s;
  uint16_t a = be::Load16(batch.data() + off::kAttributes);
  if (type == TimestampType::kLogAppendTime) {
    a |= static_cast<uint16_t>(attr::kTimestampType);
  } else {
    a &= static_cast<uint16_t>(~attr::kTimestampType);
  }
  be::Store16(batch.data() + off::kAttributes, a);
  be::Store64(batch.data() + off::kMaxTimestamp, static_cast<uint64_t>(max_timestamp));
  return UpdateCrc(batch);
}

absl::Status SetLogAppendTime(std::span<uint8_t> batch, int64_t append_time_ms) {
  return SetMaxTimestamp(batch, TimestampType::kLogAppendTime, append_time_ms);
}

// ---- records ---------------------------------------------------------------------------

RecordReader::RecordReader(const RecordBatchView& batch, RecordValidation validation)
    : batch_(batch), validation_(validation) {}

RecordReader::~RecordReader() = default;

bool RecordReader::Fail(absl::Status s) {
  status_ = absl::Status(s.code(), absl::StrCat(s.message(), At(batch_.position())));
  done_ = true;
  return false;
}

bool RecordReader::Start() {
  started_ = true;
  const RecordBatchHeader& h = batch_.header();
  if (h.compression() == Compression::kNone) {
    data_ = batch_.records_data();
  } else if (stream_) {
    absl::StatusOr<std::unique_ptr<Inflater>> in =
        Inflater::Open(h.compression(), batch_.records_data(), validation_.max_decompressed_size);
    if (!in.ok()) return Fail(in.status());
    inflater_ = std::move(*in);
    // The count is checked against the limit here and against the records at the end.
    if (h.records_count < 0 ||
        static_cast<size_t>(h.records_count) > validation_.max_decompressed_size / kMinRecordSize) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("RecordsCount ", h.records_count, " records cannot fit in the limit of ",
                       validation_.max_decompressed_size, " bytes")));
    }
    return true;
  } else {
    absl::Status s = Decompress(h.compression(), batch_.records_data(),
                                validation_.max_decompressed_size, &decompressed_);
    if (!s.ok()) return Fail(s);
    data_ = decompressed_;
  }
  if (h.records_count < 0 || static_cast<size_t>(h.records_count) > data_.size() / kMinRecordSize) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "RecordsCount ", h.records_count, " records cannot fit in ", data_.size(), " bytes")));
  }
  return true;
}

bool RecordReader::Fill(size_t need) {
  if (!inflater_ || eof_ || data_.size() - pos_ >= need) return true;
  constexpr size_t kWindow = 64 * 1024;
  // Unread bytes to the front; the window grows only as far as one record needs.
  const size_t unread = data_.size() - pos_;
  if (pos_ > 0 && unread > 0)
    std::memmove(decompressed_.data(), decompressed_.data() + pos_, unread);
  pos_ = 0;
  size_t have = unread;
  const size_t want = std::max(need, kWindow);
  if (decompressed_.size() < want) decompressed_.resize(want);
  while (have < need && !eof_) {
    absl::StatusOr<size_t> n = inflater_->Read(
        std::span<uint8_t>(decompressed_.data() + have, decompressed_.size() - have));
    if (!n.ok()) return Fail(n.status());
    if (*n == 0) {
      eof_ = true;
      break;
    }
    have += *n;
    inflated_ += *n;
    if (inflated_ > validation_.max_decompressed_size) {
      return Fail(absl::ResourceExhaustedError(
          absl::StrCat(std::string(CompressionName(batch_.header().compression())),
                       " data decompresses to more than the limit of ",
                       validation_.max_decompressed_size, " bytes")));
    }
  }
  data_ = std::span<const uint8_t>(decompressed_.data(), have);
  return true;
}

bool RecordReader::Next() {
  if (done_) return false;
  if (!started_ && !Start()) return false;
  const int32_t count = batch_.header().records_count;
  if (read_ == count) {
    if (!Fill(1)) return false;
    done_ = true;
    if (pos_ != data_.size()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(data_.size() - pos_, " bytes follow the last of ", count, " records")));
    }
    return false;
  }
  if (!Fill(5)) return false;  // a Length varint
  if (pos_ >= data_.size()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("batch declares ", count, " records but holds only ", read_)));
  }
  const uint8_t* p = data_.data() + pos_;
  const uint8_t* end = data_.data() + data_.size();
  int32_t length = 0;
  size_t n = varint::GetSigned32(p, end, &length);
  if (n == 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("record ", read_, ": bad Length varint at record byte ", pos_)));
  }
  if (inflater_ && length >= 0) {
    // The whole record in the window; one past the limit is refused before it is read.
    if (static_cast<size_t>(length) > validation_.max_decompressed_size) {
      return Fail(absl::ResourceExhaustedError(
          absl::StrCat("record ", read_, ": Length ", length, " is more than the limit of ",
                       validation_.max_decompressed_size, " bytes")));
    }
    if (!Fill(n + static_cast<size_t>(length))) return false;
    p = data_.data() + pos_;
    end = data_.data() + data_.size();
  }
  if (length < 0 || static_cast<size_t>(length) > static_cast<size_t>(end - p) - n) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("record ", read_, ": Length ", length,
                                                        " does not fit at record byte ", pos_)));
  }
  size_t record_start = pos_;
  size_t body_end = pos_ + n + static_cast<size_t>(length);
  if (!ParseRecord(pos_ + n, body_end)) return false;
  record_.encoded = data_.subspan(record_start, body_end - record_start);
  pos_ = body_end;
  ++read_;
  return true;
}

bool RecordReader::ParseRecord(size_t at, size_t end_pos) {
  const uint8_t* p = data_.data() + at;
  const uint8_t* end = data_.data() + end_pos;
  const int32_t index = read_;
  auto fail = [&](absl::string_view what) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("record ", index, ": ", what, " at record byte ", p - data_.data())));
  };
  // A length-prefixed byte string: -1 is null; anything else must fit in the record.
  auto bytes_field = [&](std::optional<std::span<const uint8_t>>* out, absl::string_view what) {
    int32_t len = 0;
    size_t n = varint::GetSigned32(p, end, &len);
    if (n == 0) return fail(absl::StrCat("bad ", what, " length varint"));
    if (len < -1 || (len >= 0 && static_cast<size_t>(len) > static_cast<size_t>(end - p) - n)) {
      return fail(absl::StrCat(what, " length ", len, " does not fit in the record"));
    }
    p += n;
    if (len < 0) {
      out->reset();
    } else {
      *out = std::span<const uint8_t>(p, static_cast<size_t>(len));
      p += len;
    }
    return true;
  };

  Record& r = record_;
  r.headers.clear();
  if (p >= end) return fail("record ends before its attributes");
  r.attributes = static_cast<int8_t>(*p++);
  size_t n = varint::GetSigned64(p, end, &r.timestamp_delta);
  if (n == 0) return fail("bad TimestampDelta varint");
  p += n;
  n = varint::GetSigned32(p, end, &r.offset_delta);
  if (n == 0) return fail("bad OffsetDelta varint");
  p += n;
  const RecordBatchHeader& h = batch_.header();
  if (validation_.require_dense_offsets) {
    if (r.offset_delta != index) {
      return fail(absl::StrCat("OffsetDelta ", r.offset_delta, " where ", index, " was expected"));
    }
  } else if (r.offset_delta <= last_delta_ || r.offset_delta > h.last_offset_delta) {
    return fail(absl::StrCat("OffsetDelta ", r.offset_delta,
                             " out of order or past LastOffsetDelta ", h.last_offset_delta));
  }
  last_delta_ = r.offset_delta;
  if (!bytes_field(&r.key, "key")) return false;
  if (!bytes_field(&r.value, "value")) return false;
  int32_t header_count = 0;
  n = varint::GetSigned32(p, end, &header_count);
  if (n == 0) return fail("bad HeadersCount varint");
  p += n;
  // Each header takes at least two bytes: the count is checked before anything is kept.
  if (header_count < 0 || static_cast<size_t>(header_count) > static_cast<size_t>(end - p) / 2) {
    return fail(absl::StrCat("HeadersCount ", header_count, " does not fit in the record"));
  }
  for (int32_t i = 0; i < header_count; ++i) {
    std::optional<std::span<const uint8_t>> key, value;
    if (!bytes_field(&key, "header key")) return false;
    if (!key) return fail("null header key");
    if (!bytes_field(&value, "header value")) return false;
    r.headers.push_back(RecordHeader{
        std::string_view(reinterpret_cast<const char*>(key->data()), key->size()), value});
  }
  if (p != end) {
    return fail(absl::StrCat("record Length leaves ", end - p, " bytes unread"));
  }
  r.offset = Offset(RecordBatchHeader::WrapAdd(h.base_offset.value, r.offset_delta));
  r.timestamp = h.timestamp_type() == TimestampType::kLogAppendTime
                    ? h.max_timestamp
                    : RecordBatchHeader::WrapAdd(h.base_timestamp, r.timestamp_delta);
  return true;
}

absl::StatusOr<std::vector<Record>> ReadAllRecords(const RecordBatchView& batch,
                                                   std::vector<uint8_t>* storage,
                                                   RecordValidation validation) {
  RecordReader reader(batch, validation);
  reader.stream_ = false;  // the records must all stay valid
  std::vector<Record> records;
  while (reader.Next()) records.push_back(reader.record());
  if (!reader.status().ok()) return reader.status();
  // Moving a vector keeps its buffer, so the spans stay valid.
  *storage = std::move(reader.decompressed_);
  return records;
}

}  // namespace fjord::protocol
