#pragma once
// Validation of the record batches of one append, before any byte reaches a segment
// (Kafka's LogValidator). A leader append checks every batch, assigns offsets by patching
// BaseOffset, stamps the leader epoch and applies message.timestamp.type; a follower
// append checks framing and CRC and keeps the leader's offsets. Pure functions of the
// caller's buffer, which is patched in place: no copy on the produce path.
//
// Failures carry an AppendError that the server turns into the Kafka error code of the
// partition's produce response (the table beside each value).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log_config.h"

namespace fjord::storage {

enum class AppendError : uint8_t {
  kNone = 0,
  kCorruptMessage,        // CORRUPT_MESSAGE (2): CRC, framing, truncated batch
  kInvalidRecord,         // INVALID_RECORD (87): well-framed but invalid contents
  kMessageTooLarge,       // MESSAGE_TOO_LARGE (10): a batch over max.message.bytes
  kRecordListTooLarge,    // RECORD_LIST_TOO_LARGE (18): the append exceeds segment.bytes
  kInvalidTimestamp,      // INVALID_TIMESTAMP (32): outside the before/after bounds
  kUnsupportedMagic,      // UNSUPPORTED_FOR_MESSAGE_FORMAT (43): magic 0/1 on a v2 path
  kOffsetOutOfOrder,      // a follower batch below the log end offset (replication bug)
  kOutOfOrderSequence,    // OUT_OF_ORDER_SEQUENCE_NUMBER (45): an idempotent sequence gap
  kInvalidProducerEpoch,  // INVALID_PRODUCER_EPOCH (47): an older producer epoch (fenced)
  kInvalidTxnState,       // INVALID_TXN_STATE (48): plain data amid a producer's transaction
  kCoordinatorFenced,     // TRANSACTION_COORDINATOR_FENCED (52): a marker from an old coordinator
  kStorage,               // KAFKA_STORAGE_ERROR (56): the disk failed
};

// A status whose code fits the failure and which carries `error` for AppendErrorOf.
absl::Status AppendFailure(AppendError error, std::string message);
// The AppendError of a failed append; kStorage for statuses without one.
AppendError AppendErrorOf(const absl::Status& status);
// The Kafka error a produce (or a coordinator's write) answers for it.
protocol::ErrorCode AppendErrorCode(AppendError e);

// Who is appending: clients get the strictest checks (KIP-98: only coordinators write
// control batches; one batch per produce partition since magic 2).
enum class AppendOrigin : uint8_t { kClient, kCoordinator, kReplication };

struct ValidationContext {
  AppendOrigin origin = AppendOrigin::kClient;
  // Leader appends: the offset the first record gets, the epoch stamped on every batch,
  // and the broker's clock for LogAppendTime and timestamp bounds.
  Offset next_offset{0};
  LeaderEpoch leader_epoch{-1};
  int64_t now_ms = 0;
  // The record-level checks already ran (PrevalidateRecords, off the event loop) and found
  // these largest timestamps, one per batch: they are not run again.
  const std::vector<int64_t>* prevalidated_max_timestamps = nullptr;
};

// One idempotent batch (KIP-98): its sequence range and where it landed in the log.
struct ProducerBatch {
  int32_t first_seq = -1;
  int32_t last_seq = -1;
  Offset first_offset{-1};
  Offset last_offset{-1};
  int64_t max_timestamp = -1;
};

// A transaction marker (KIP-98): the end of a producer's transaction in a partition.
struct TxnMarker {
  bool commit = false;
  int32_t coordinator_epoch = 0;
};

// A batch of an append written by a producer with an id (idempotent or transactional),
// or a transaction marker: what producer state checks and records.
struct ProducerAppend {
  ProducerId producer_id{-1};
  ProducerEpoch epoch{-1};
  ProducerBatch batch;  // first_seq -1: no sequence (a coordinator's transactional batch)
  bool transactional = false;
  std::optional<TxnMarker> marker;  // set: a control batch ending the transaction
};

// The producer's view of a data batch placed at `base_offset`: nullopt unless the batch
// has a producer id. Sequences wrap from INT32_MAX to 0.
std::optional<ProducerAppend> ProducerAppendOf(const protocol::RecordBatchHeader& h,
                                               Offset base_offset, int64_t max_timestamp);
// The marker of a control batch placed at `base_offset`: nullopt for other control
// records (or none); kCorruptMessage when its record does not decode.
absl::StatusOr<std::optional<ProducerAppend>> MarkerAppendOf(const protocol::RecordBatchView& batch,
                                                             Offset base_offset);

// What an append did (or, before it is written, will do).
struct LogAppendInfo {
  Offset first_offset{-1};
  Offset last_offset{-1};
  // The largest timestamp of the append and the offset of the batch holding it.
  int64_t max_timestamp = -1;
  Offset offset_of_max_timestamp{-1};
  // The broker time written into LogAppendTime batches, or -1 (CreateTime).
  int64_t log_append_time = -1;
  Offset log_start_offset{0};
  int32_t batch_count = 0;
  int64_t record_count = 0;
  size_t valid_bytes = 0;
  // The idempotent batches, with their offsets: what producer state checks and records
  // (empty for other producers, so nothing is allocated on their path).
  std::vector<ProducerAppend> producer_batches;
};

// Leader (client or coordinator) append: validates and patches `records` in place.
absl::StatusOr<LogAppendInfo> ValidateAndAssignOffsets(std::span<uint8_t> records,
                                                       const LogConfig& config,
                                                       const ValidationContext& context);

// The expensive part of a leader append's validation, which needs no log state: every
// record of every batch decompressed and checked (framing, offset deltas, timestamps
// against `now_ms`). Returns each batch's true largest timestamp, for
// ValidationContext::prevalidated_max_timestamps. Thread-safe; runs on a worker.
absl::StatusOr<std::vector<int64_t>> PrevalidateRecords(std::span<const uint8_t> records,
                                                        const LogConfig& config, int64_t now_ms);
// Whether validating `records` may take long enough to hold an event loop: a compressed
// batch (its inflated size is unknown until read) or more than kInlineValidationBytes.
inline constexpr size_t kInlineValidationBytes = 64 * 1024;
bool ValidationIsHeavy(std::span<const uint8_t> records);

// Follower append: validates framing and CRC and that offsets only grow from
// `next_offset`; leaves every byte as the leader wrote it.
absl::StatusOr<LogAppendInfo> ValidateReplicatedBatches(std::span<const uint8_t> records,
                                                        const LogConfig& config,
                                                        Offset next_offset);

}  // namespace fjord::storage
