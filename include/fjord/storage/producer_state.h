#pragma once
// Idempotent producers' state in one partition (KIP-98): per producer id, its epoch and
// the sequence ranges and offsets of its last five batches. A leader append checks each
// idempotent batch against it first: a retried batch (same epoch and sequence range as
// one of the five) is a duplicate and gets the original offsets instead of being written
// again; a batch that does not follow on from the last sequence is OUT_OF_ORDER; an epoch
// older than the producer's is INVALID_PRODUCER_EPOCH. Every written batch (leader,
// follower, or replayed from disk on load) is recorded.
//
// Owned by a Log and guarded by its mutex; not thread-safe on its own.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "fjord/base/types.h"
#include "fjord/storage/log_validator.h"

namespace fjord::storage {

struct ProducerEntry {
  ProducerEpoch epoch{-1};
  std::deque<ProducerBatch> batches;  // oldest first, at most kMaxBatches
  int64_t last_timestamp = -1;
};

class ProducerStateTable {
 public:
  // Kafka keeps this many batches per producer; clients keep at most five in flight.
  static constexpr size_t kMaxBatches = 5;

  struct Verdict {
    AppendError error = AppendError::kNone;
    std::string message;
    std::optional<ProducerBatch> duplicate;  // set: do not write, answer with these offsets
  };

  // The check of one idempotent batch (producer id >= 0) before a leader writes it.
  Verdict Check(ProducerId id, ProducerEpoch epoch, int32_t first_seq, int32_t last_seq) const;
  // Records a written batch; a newer epoch starts the producer's history afresh.
  void Record(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch);
  void Record(const ProducerAppend& a) { Record(a.producer_id, a.epoch, a.batch); }
  // Drops producers whose last write is older than `cutoff_ms` (producer.id.expiration.ms).
  size_t ExpireBefore(int64_t cutoff_ms);
  // Forgets batches at or after `offset` (the log was truncated there).
  void TruncateFrom(Offset offset);
  void Clear() { producers_.clear(); }

  const ProducerEntry* Find(ProducerId id) const;
  size_t size() const { return producers_.size(); }

 private:
  absl::flat_hash_map<int64_t, ProducerEntry> producers_;
};

}  // namespace fjord::storage
