#pragma once
// The topic-level configs one partition log obeys, with Kafka's names and defaults. The
// config registry (config/) fills a LogConfig from the broker's `log.*` defaults and a
// topic's overrides; storage only reads it. A plain value, copied into each Log.

#include <cstdint>
#include <limits>

#include "fjord/protocol/record_batch.h"

namespace fjord::storage {

inline constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();

struct LogConfig {
  // segment.bytes: roll when a segment would grow past this.
  int64_t segment_bytes = 1LL << 30;
  // segment.ms: roll a non-empty segment this long after its first batch's timestamp.
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;
  // segment.jitter.ms: subtracted from segment.ms (a fixed value here; Kafka draws it at
  // random per segment, which the caller may do when it builds the config).
  int64_t segment_jitter_ms = 0;
  // segment.index.bytes: the largest .index / .timeindex file; a full index rolls.
  int64_t segment_index_bytes = 10 * 1024 * 1024;
  // index.interval.bytes: one offset-index entry per this many bytes of log.
  int32_t index_interval_bytes = 4096;
  // max.message.bytes: the largest record batch accepted (after compression).
  int32_t max_message_bytes = 1024 * 1024 + 12;
  // message.timestamp.type.
  protocol::TimestampType message_timestamp_type = protocol::TimestampType::kCreateTime;
  // message.timestamp.before.max.ms / after.max.ms (KIP-937): how far a CreateTime
  // timestamp may lie before / after the broker's clock. KIP-1030 made the after-bound one
  // hour by default. (The older message.timestamp.difference.max.ms sets both.)
  int64_t message_timestamp_before_max_ms = kUnlimited;
  int64_t message_timestamp_after_max_ms = 3600 * 1000;
  // flush.messages / flush.ms: fsync after this many appended records / this long since
  // the last fsync. Kafka's defaults leave durability to replication and the page cache.
  int64_t flush_messages = kUnlimited;
  int64_t flush_ms = kUnlimited;
  // retention.ms (-1 = keep forever) and retention.bytes (-1 = no size limit).
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t retention_bytes = -1;
  // file.delete.delay.ms: how long a deleted segment's files linger as `.deleted`.
  int64_t file_delete_delay_ms = 60 * 1000;
  // Validate every record of a produced batch (Kafka's LogValidator does). Batch-level
  // checks (framing, CRC-32C, counts) always run; this adds record framing, offset
  // deltas and per-record timestamps, decompressing compressed batches to do so.
  bool validate_records = true;
};

}  // namespace fjord::storage
