#include "fjord/storage/log_validator.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "fjord/base/endian.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"

namespace fjord::storage {
namespace {

using protocol::BatchValidation;
using protocol::RecordBatchHeader;
using protocol::RecordBatchIterator;
using protocol::TimestampType;

constexpr absl::string_view kPayloadUrl = "fjord.storage/append-error";
// Kafka's error_message when a record's timestamp is refused (LogValidator).
constexpr absl::string_view kInvalidTimestampMessage =
    "One or more records have been rejected due to invalid timestamp";

absl::StatusCode CodeFor(AppendError error) {
  switch (error) {
    case AppendError::kCorruptMessage:
      return absl::StatusCode::kDataLoss;
    case AppendError::kInvalidRecord:
    case AppendError::kInvalidTimestamp:
      return absl::StatusCode::kInvalidArgument;
    case AppendError::kMessageTooLarge:
    case AppendError::kRecordListTooLarge:
      return absl::StatusCode::kResourceExhausted;
    case AppendError::kUnsupportedMagic:
      return absl::StatusCode::kUnimplemented;
    case AppendError::kOffsetOutOfOrder:
    case AppendError::kOutOfOrderSequence:
    case AppendError::kInvalidProducerEpoch:
    case AppendError::kInvalidTxnState:
    case AppendError::kCoordinatorFenced:
      return absl::StatusCode::kFailedPrecondition;
    case AppendError::kNone:
    case AppendError::kStorage:
      break;
  }
  return absl::StatusCode::kInternal;
}

// The codec's status codes, as documented in record_batch.h, mapped to append errors.
absl::Status FromCodec(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kDataLoss:
      return AppendFailure(AppendError::kCorruptMessage, std::string(s.message()));
    case absl::StatusCode::kResourceExhausted:
      return AppendFailure(AppendError::kMessageTooLarge, std::string(s.message()));
    case absl::StatusCode::kUnimplemented:
      return AppendFailure(AppendError::kUnsupportedMagic, std::string(s.message()));
    default:
      return AppendFailure(AppendError::kInvalidRecord, std::string(s.message()));
  }
}

absl::Status CheckTotalSize(size_t size, const LogConfig& config) {
  if (static_cast<int64_t>(size) > config.segment_bytes) {
    return AppendFailure(
        AppendError::kRecordListTooLarge,
        absl::StrCat("append of ", size, " bytes exceeds segment.bytes ", config.segment_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(int64_t ts, const LogConfig& config, int64_t now_ms) {
  // KIP-937: a timestamp may lie at most before.max.ms in the past and after.max.ms in the
  // future. Saturating arithmetic: the bounds default to "unlimited".
  auto sat_sub = [](int64_t a, int64_t b) {
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? std::numeric_limits<int64_t>::min() : r;
  };
  auto sat_add = [](int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
  };
  if (ts < sat_sub(now_ms, config.message_timestamp_before_max_ms) ||
      ts > sat_add(now_ms, config.message_timestamp_after_max_ms)) {
    return AppendFailure(AppendError::kInvalidTimestamp, std::string(kInvalidTimestampMessage));
  }
  return absl::OkStatus();
}

// Record-level checks of one leader batch (Kafka's LogValidator.validateRecord): framing,
// offset deltas 0..n-1, timestamps. Returns the batch's true largest timestamp.
absl::StatusOr<int64_t> ValidateRecords(const protocol::RecordBatchView& batch,
                                        const LogConfig& config, int64_t now_ms,
                                        bool check_timestamps) {
  protocol::RecordValidation rv;
  rv.require_dense_offsets = true;
  rv.max_decompressed_size =
      std::max<size_t>(rv.max_decompressed_size, static_cast<size_t>(config.max_message_bytes));
  protocol::RecordReader reader(batch, rv);
  int64_t max_ts = protocol::kNoTimestamp;
  while (reader.Next()) {
    int64_t ts = batch.header().base_timestamp + reader.record().timestamp_delta;
    if (check_timestamps) {
      if (absl::Status s = CheckTimestamp(ts, config, now_ms); !s.ok()) return s;
    }
    max_ts = std::max(max_ts, ts);
  }
  if (!reader.status().ok()) return FromCodec(reader.status());
  return max_ts;
}

// Adds one batch to the append's summary.
void AddBatch(Offset last, int64_t max_ts, int32_t records, LogAppendInfo* info) {
  if (max_ts > info->max_timestamp || info->offset_of_max_timestamp.value < 0) {
    info->max_timestamp = std::max(info->max_timestamp, max_ts);
    info->offset_of_max_timestamp = last;
  }
  info->last_offset = last;
  info->batch_count++;
  info->record_count += records;
}

// How a walk over an append's batches ended: an error, a truncated batch, or cleanly.
absl::Status EndStatus(const RecordBatchIterator& it) {
  if (!it.status().ok()) return FromCodec(it.status());
  if (it.has_partial_tail()) {
    return AppendFailure(AppendError::kCorruptMessage,
                         absl::StrCat("truncated record batch at byte ", it.position()));
  }
  return absl::OkStatus();
}

// Kafka's framing of a client's records (ProduceRequest.validateRecords, then
// UnifiedLog.analyzeAndValidateRecords): exactly one whole v2 batch at base offset 0. A
// batch that does not end within the records is no batch (INVALID_RECORD); a length below
// the smallest legacy message (14) or an unknown magic is CORRUPT_MESSAGE; magic 0 or 1
// is INVALID_RECORD on Produce v3+; bytes after the batch too few to be a whole batch are
// dropped, as Kafka trims a partial tail. Returns how many bytes to append.
absl::StatusOr<size_t> CheckClientFraming(std::span<const uint8_t> records) {
  constexpr int32_t kMinLegacyLength = 14;
  constexpr size_t kUpToMagic = protocol::batch_offsets::kMagic + 1;
  auto no_batch = [] {
    return AppendFailure(AppendError::kInvalidRecord,
                         "a produce request must carry one whole record batch per partition");
  };
  // What a frame at `at` holds: nullopt when it is not whole, else its size.
  auto frame = [&](size_t at) -> absl::StatusOr<std::optional<size_t>> {
    const size_t left = records.size() - at;
    if (left < protocol::kLogOverhead) return std::nullopt;
    const int32_t length = static_cast<int32_t>(
        be::Load32(records.data() + at + protocol::batch_offsets::kBatchLength));
    if (length < kMinLegacyLength) {
      return AppendFailure(AppendError::kCorruptMessage,
                           absl::StrCat("record batch length ", length, " at byte ", at,
                                        " is below the smallest message"));
    }
    if (left < kUpToMagic) return std::nullopt;
    const int8_t magic = static_cast<int8_t>(records[at + protocol::batch_offsets::kMagic]);
    if (magic < 0 || magic > protocol::kMagicV2) {
      return AppendFailure(AppendError::kCorruptMessage,
                           absl::StrCat("invalid magic ", magic, " at byte ", at));
    }
    const size_t size = protocol::kLogOverhead + static_cast<size_t>(length);
    if (size > left) return std::nullopt;
    return size;
  };
  absl::StatusOr<std::optional<size_t>> first = frame(0);
  if (!first.ok()) return first.status();
  if (!*first) return no_batch();
  if (static_cast<int8_t>(records[protocol::batch_offsets::kMagic]) != protocol::kMagicV2) {
    return AppendFailure(AppendError::kInvalidRecord,
                         "produce requests from version 3 take record batches of magic 2 only");
  }
  absl::StatusOr<std::optional<size_t>> second = frame(**first);
  if (!second.ok()) return second.status();
  if (*second) {
    return AppendFailure(AppendError::kInvalidRecord,
                         "a produce request must carry exactly one record batch per partition");
  }
  const int64_t base_offset = static_cast<int64_t>(be::Load64(records.data()));
  if (base_offset != 0) {
    return AppendFailure(
        AppendError::kInvalidRecord,
        absl::StrCat("the base offset of a produced batch must be 0, not ", base_offset));
  }
  return **first;
}

// A log-append-time batch from a client carries its records' timestamp in MaxTimestamp;
// Kafka refuses one without any (LogValidator.validateTimestamp) on a CreateTime topic.
absl::Status CheckClientTimestampType(const RecordBatchHeader& h, const LogConfig& config) {
  if (config.message_timestamp_type == TimestampType::kCreateTime &&
      h.timestamp_type() == TimestampType::kLogAppendTime &&
      h.max_timestamp == protocol::kNoTimestamp) {
    return AppendFailure(AppendError::kInvalidTimestamp, std::string(kInvalidTimestampMessage));
  }
  return absl::OkStatus();
}

}  // namespace

static absl::Status AddProducerAppend(const protocol::RecordBatchView& batch, Offset base_offset,
                                      int64_t max_timestamp, LogAppendInfo* info) {
  if (batch.header().is_control()) {
    absl::StatusOr<std::optional<ProducerAppend>> m = MarkerAppendOf(batch, base_offset);
    if (!m.ok()) return m.status();
    if (*m) info->producer_batches.push_back(**m);
  } else if (auto p = ProducerAppendOf(batch.header(), base_offset, max_timestamp)) {
    info->producer_batches.push_back(*p);
  }
  return absl::OkStatus();
}

absl::Status AppendFailure(AppendError error, std::string message) {
  absl::Status s(CodeFor(error), message);
  s.SetPayload(kPayloadUrl, absl::Cord(std::string(1, static_cast<char>(error))));
  return s;
}

protocol::ErrorCode AppendErrorCode(AppendError e) {
  using protocol::ErrorCode;
  switch (e) {
    case AppendError::kNone:
      return ErrorCode::kNone;
    case AppendError::kCorruptMessage:
      return ErrorCode::kCorruptMessage;
    case AppendError::kInvalidRecord:
      return ErrorCode::kInvalidRecord;
    case AppendError::kMessageTooLarge:
      return ErrorCode::kMessageTooLarge;
    case AppendError::kRecordListTooLarge:
      return ErrorCode::kRecordListTooLarge;
    case AppendError::kInvalidTimestamp:
      return ErrorCode::kInvalidTimestamp;
    case AppendError::kUnsupportedMagic:
      return ErrorCode::kUnsupportedForMessageFormat;
    case AppendError::kOutOfOrderSequence:
      return ErrorCode::kOutOfOrderSequenceNumber;
    case AppendError::kInvalidProducerEpoch:
      return ErrorCode::kInvalidProducerEpoch;
    case AppendError::kInvalidTxnState:
      return ErrorCode::kInvalidTxnState;
    case AppendError::kCoordinatorFenced:
      return ErrorCode::kTransactionCoordinatorFenced;
    case AppendError::kOffsetOutOfOrder:
    case AppendError::kStorage:
      return ErrorCode::kKafkaStorageError;
  }
  return ErrorCode::kUnknownServerError;
}

AppendError AppendErrorOf(const absl::Status& status) {
  if (status.ok()) return AppendError::kNone;
  auto p = status.GetPayload(kPayloadUrl);
  if (!p || p->size() != 1) return AppendError::kStorage;
  return static_cast<AppendError>(static_cast<uint8_t>((*p)[0]));
}

std::optional<ProducerAppend> ProducerAppendOf(const RecordBatchHeader& h, Offset base_offset,
                                               int64_t max_timestamp) {
  if (!h.is_idempotent() || h.is_control()) return std::nullopt;
  ProducerAppend a;
  a.producer_id = h.producer_id;
  a.epoch = h.producer_epoch;
  a.transactional = h.is_transactional();
  if (h.base_sequence >= 0) {
    const int64_t last_seq = int64_t{h.base_sequence} + h.last_offset_delta;
    a.batch.first_seq = h.base_sequence;
    a.batch.last_seq =
        static_cast<int32_t>(last_seq > INT32_MAX ? last_seq - INT32_MAX - 1 : last_seq);
  }
  a.batch.first_offset = base_offset;
  a.batch.last_offset = base_offset + h.last_offset_delta;
  a.batch.max_timestamp = max_timestamp;
  return a;
}

absl::StatusOr<std::optional<ProducerAppend>> MarkerAppendOf(const protocol::RecordBatchView& batch,
                                                             Offset base_offset) {
  const RecordBatchHeader& h = batch.header();
  if (!h.is_control() || !h.is_transactional() || !h.is_idempotent()) return std::nullopt;
  protocol::RecordReader reader(batch);
  if (!reader.Next()) {
    if (!reader.status().ok()) return FromCodec(reader.status());
    return std::nullopt;
  }
  absl::StatusOr<int16_t> type = protocol::ParseControlRecordType(reader.record());
  if (!type.ok())
    return AppendFailure(AppendError::kCorruptMessage, std::string(type.status().message()));
  if (*type != static_cast<int16_t>(protocol::ControlRecordType::kAbort) &&
      *type != static_cast<int16_t>(protocol::ControlRecordType::kCommit)) {
    return std::nullopt;
  }
  absl::StatusOr<protocol::EndTxnMarker> m = protocol::ParseEndTxnMarker(reader.record());
  if (!m.ok())
    return AppendFailure(AppendError::kCorruptMessage, std::string(m.status().message()));
  ProducerAppend a;
  a.producer_id = h.producer_id;
  a.epoch = h.producer_epoch;
  a.transactional = true;
  a.batch.first_offset = a.batch.last_offset = base_offset;
  a.batch.max_timestamp = h.max_timestamp;
  a.marker = TxnMarker{m->type == protocol::ControlRecordType::kCommit, m->coordinator_epoch};
  return a;
}

absl::StatusOr<LogAppendInfo> ValidateAndAssignOffsets(std::span<uint8_t> records,
                                                       const LogConfig& config,
                                                       const ValidationContext& context) {
  if (absl::Status s = CheckTotalSize(records.size(), config); !s.ok()) return s;
  BatchValidation bv;
  bv.max_batch_size = static_cast<size_t>(std::max(config.max_message_bytes, 0));
  bv.require_dense_offsets = true;
  if (context.origin == AppendOrigin::kClient) {
    absl::StatusOr<size_t> whole = CheckClientFraming(records);
    if (!whole.ok()) return whole.status();
    records = records.first(*whole);
    bv.ignore_unused_attributes = true;
  }
  const bool log_append_time = config.message_timestamp_type == TimestampType::kLogAppendTime;
  const bool check_timestamps =
      !log_append_time && (config.message_timestamp_before_max_ms != kUnlimited ||
                           config.message_timestamp_after_max_ms != kUnlimited);

  LogAppendInfo info;
  info.first_offset = context.next_offset;
  Offset next = context.next_offset;
  RecordBatchIterator it(records, bv);
  while (it.Next()) {
    const protocol::RecordBatchView& view = it.batch();
    const RecordBatchHeader& h = view.header();
    if (context.origin == AppendOrigin::kClient) {
      // Since magic 2 a produce request carries one batch per partition.
      if (info.batch_count > 0) {
        return AppendFailure(AppendError::kInvalidRecord,
                             "a produce request must carry exactly one record batch per "
                             "partition");
      }
      if (h.is_control()) {
        return AppendFailure(AppendError::kInvalidRecord, "clients may not write control batches");
      }
      // LogValidator.validateBatch: an idempotent batch needs its sequence number.
      if (h.is_idempotent() && h.base_sequence < 0) {
        return AppendFailure(AppendError::kInvalidRecord,
                             absl::StrCat("invalid sequence number ", h.base_sequence,
                                          " in a batch of producer id ", h.producer_id.value));
      }
      if (absl::Status s = CheckClientTimestampType(h, config); !s.ok()) return s;
    }
    int64_t max_ts = h.max_timestamp;
    if (context.prevalidated_max_timestamps != nullptr) {
      const std::vector<int64_t>& pre = *context.prevalidated_max_timestamps;
      if (static_cast<size_t>(info.batch_count) >= pre.size()) {
        return AppendFailure(AppendError::kCorruptMessage,
                             "the records changed after they were validated");
      }
      max_ts = pre[static_cast<size_t>(info.batch_count)];
    } else if (config.validate_records) {
      absl::StatusOr<int64_t> true_max =
          ValidateRecords(view, config, context.now_ms, check_timestamps);
      if (!true_max.ok()) return true_max.status();
      max_ts = *true_max;
    } else if (check_timestamps) {
      // Without record checks, the header's bounds stand in for the records.
      if (absl::Status s = CheckTimestamp(h.max_timestamp, config, context.now_ms); !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckTimestamp(h.base_timestamp, config, context.now_ms); !s.ok()) {
        return s;
      }
    }

    std::span<uint8_t> bytes = records.subspan(view.position(), view.bytes().size());
    if (h.attributes & protocol::batch_attributes::kUnused) {
      // Kafka ignores attribute bits 7-15 and writes the batch without them.
      be::Store16(bytes.data() + protocol::batch_offsets::kAttributes,
                  static_cast<uint16_t>(h.attributes & ~protocol::batch_attributes::kUnused));
      if (absl::Status s = protocol::UpdateCrc(bytes); !s.ok()) return FromCodec(s);
    }
    if (absl::Status s = protocol::SetBaseOffset(bytes, next); !s.ok()) return FromCodec(s);
    if (absl::Status s = protocol::SetPartitionLeaderEpoch(bytes, context.leader_epoch); !s.ok()) {
      return FromCodec(s);
    }
    if (log_append_time) {
      if (absl::Status s = protocol::SetLogAppendTime(bytes, context.now_ms); !s.ok()) {
        return FromCodec(s);
      }
      max_ts = context.now_ms;
      info.log_append_time = context.now_ms;
    } else if (max_ts != h.max_timestamp || h.timestamp_type() != TimestampType::kCreateTime) {
      // The header must tell the truth the time index and retention rely on.
      if (absl::Status s = protocol::SetMaxTimestamp(bytes, TimestampType::kCreateTime, max_ts);
          !s.ok()) {
        return FromCodec(s);
      }
    }
    const Offset last = next + h.last_offset_delta;
    if (absl::Status s = AddProducerAppend(view, next, max_ts, &info); !s.ok()) return s;
    AddBatch(last, max_ts, h.records_count, &info);
    next = last + 1;
  }
  if (absl::Status s = EndStatus(it); !s.ok()) return s;
  if (info.batch_count == 0) {
    return AppendFailure(AppendError::kInvalidRecord, "the append holds no record batch");
  }
  info.valid_bytes = it.position();
  return info;
}

bool ValidationIsHeavy(std::span<const uint8_t> records) {
  if (records.size() > kInlineValidationBytes) return true;
  for (size_t p = 0; p + protocol::kRecordBatchHeaderSize <= records.size();) {
    const RecordBatchHeader h = RecordBatchHeader::Decode(records.data() + p);
    if (h.magic != protocol::kMagicV2 || h.batch_length <= 0) return false;  // refused at once
    if (h.compression() != protocol::Compression::kNone) return true;
    p += h.size_in_bytes();
  }
  return false;
}

absl::StatusOr<std::vector<int64_t>> PrevalidateRecords(std::span<const uint8_t> records,
                                                        const LogConfig& config, int64_t now_ms) {
  absl::StatusOr<size_t> whole = CheckClientFraming(records);
  if (!whole.ok()) return whole.status();
  records = records.first(*whole);
  BatchValidation bv;
  bv.max_batch_size = static_cast<size_t>(std::max(config.max_message_bytes, 0));
  bv.require_dense_offsets = true;
  bv.ignore_unused_attributes = true;
  const bool log_append_time = config.message_timestamp_type == TimestampType::kLogAppendTime;
  const bool check_timestamps =
      !log_append_time && (config.message_timestamp_before_max_ms != kUnlimited ||
                           config.message_timestamp_after_max_ms != kUnlimited);
  std::vector<int64_t> out;
  RecordBatchIterator it(records, bv);
  while (it.Next()) {
    const protocol::RecordBatchView& view = it.batch();
    const RecordBatchHeader& h = view.header();
    if (h.is_control()) {
      out.push_back(h.max_timestamp);  // refused by the append itself
      continue;
    }
    if (!config.validate_records) {
      if (check_timestamps) {
        if (absl::Status s = CheckTimestamp(h.max_timestamp, config, now_ms); !s.ok()) return s;
        if (absl::Status s = CheckTimestamp(h.base_timestamp, config, now_ms); !s.ok()) return s;
      }
      out.push_back(h.max_timestamp);
      continue;
    }
    absl::StatusOr<int64_t> max_ts = ValidateRecords(view, config, now_ms, check_timestamps);
    if (!max_ts.ok()) return max_ts.status();
    out.push_back(*max_ts);
  }
  if (absl::Status s = EndStatus(it); !s.ok()) return s;
  return out;
}

absl::StatusOr<LogAppendInfo> ValidateReplicatedBatches(std::span<const uint8_t> records,
                                                        const LogConfig& config,
                                                        Offset next_offset) {
  if (absl::Status s = CheckTotalSize(records.size(), config); !s.ok()) return s;
  LogAppendInfo info;
  RecordBatchIterator it(records);
  Offset expected = next_offset;
  while (it.Next()) {
    const RecordBatchHeader& h = it.batch().header();
    if (h.base_offset < expected) {
      return AppendFailure(AppendError::kOffsetOutOfOrder,
                           absl::StrCat("batch at offset ", h.base_offset.value,
                                        " is below the expected next offset ", expected.value));
    }
    if (h.last_offset() < h.base_offset) {
      return AppendFailure(AppendError::kCorruptMessage,
                           absl::StrCat("batch offsets overflow at offset ", h.base_offset.value));
    }
    if (info.batch_count == 0) info.first_offset = h.base_offset;
    if (absl::Status s = AddProducerAppend(it.batch(), h.base_offset, h.max_timestamp, &info);
        !s.ok()) {
      return s;
    }
    AddBatch(h.last_offset(), h.max_timestamp, h.records_count, &info);
    expected = h.next_offset();
  }
  if (absl::Status s = EndStatus(it); !s.ok()) return s;
  info.valid_bytes = it.position();
  return info;
}

}  // namespace fjord::storage
