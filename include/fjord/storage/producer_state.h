#pragma once
// Producers' state in one partition (KIP-98): per producer id, its epoch, the sequence
// ranges and offsets of its last five batches, and its open transaction.
//
// Idempotence: a leader append checks each batch against it first. A retried batch (same
// epoch and sequence range as one of the five) is a duplicate and gets the original
// offsets instead of being written again; a batch that does not follow on from the last
// sequence is OUT_OF_ORDER; an epoch older than the producer's is INVALID_PRODUCER_EPOCH.
//
// Transactions: a producer's first transactional batch opens its transaction here; the
// coordinator's marker (COMMIT or ABORT) closes it. The first offset of the oldest open
// transaction bounds the last stable offset, which read_committed consumers read up to.
// Every written batch and marker (leader, follower, or replayed on load) is recorded.
//
// Verification (KIP-890): before a leader writes a producer's first transactional batch
// here, it asks the transaction coordinator whether this partition is in the producer's
// open transaction. It first takes a VerificationGuard from this table and must present
// the same guard when it appends; any transactional batch or marker of the producer
// written in between drops the guard, so an answer about a transaction that has since
// ended (a marker came first) cannot open a new one. Once a transaction is open here its
// later batches need no guard. Guards are in memory only and expire with idle producers.
//
// Owned by a Log and guarded by its mutex; not thread-safe on its own.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fjord/base/types.h"
#include "fjord/storage/log_validator.h"

namespace fjord::storage {

struct ProducerEntry {
  ProducerEpoch epoch{-1};
  std::deque<ProducerBatch> batches;  // oldest first, at most kMaxBatches
  int64_t last_timestamp = -1;
  int32_t coordinator_epoch = -1;
  std::optional<Offset> txn_first_offset;  // the open transaction's first offset here
};

// A transaction a marker ended in this partition.
struct CompletedTxn {
  ProducerId producer_id{-1};
  Offset first_offset{-1};
  Offset last_offset{-1};  // the marker's offset
  bool aborted = false;
};

// An open transaction, for operators (DescribeProducers) and the LSO.
struct OpenTxn {
  ProducerId producer_id{-1};
  Offset first_offset{-1};
};

// A token for one verification (KIP-890). Unique in the process; the default (0) is the
// sentinel, which no append may present as a verification.
struct VerificationGuard {
  uint64_t value = 0;
  bool is_sentinel() const { return value == 0; }
  friend bool operator==(VerificationGuard, VerificationGuard) = default;
};

// A verification in progress for a producer: its guard, and the lowest sequence and
// newest epoch seen while it lasts (a batch above that sequence is out of order, so a
// retried lower batch cannot be overtaken while the coordinator answers).
struct VerificationState {
  VerificationGuard guard;
  int64_t created_ms = 0;
  int32_t lowest_seq = -1;
  ProducerEpoch epoch{-1};
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

  // The sequence check of one idempotent batch (producer id >= 0) before a leader writes it.
  Verdict Check(ProducerId id, ProducerEpoch epoch, int32_t first_seq, int32_t last_seq) const;
  // The whole check of a leader append's batch or marker: epochs (markers also the
  // coordinator epoch), sequences when the batch has them, and plain data amid an open
  // transaction (INVALID_TXN_STATE).
  Verdict Check(const ProducerAppend& a) const;
  // KIP-890: the check of a client's batch when verification is on. A transactional data
  // batch of a producer without an open transaction here must present the guard handed out
  // by StartVerification (INVALID_TXN_STATE otherwise); while a verification lasts, a batch
  // above its lowest sequence is OUT_OF_ORDER_SEQUENCE_NUMBER.
  Verdict CheckVerification(const ProducerAppend& a, VerificationGuard guard) const;
  // Whether the producer has an open transaction in this partition.
  bool HasOngoingTxn(ProducerId id) const;
  // Starts (or joins) the verification of a producer's first transactional batch: its
  // guard, or the sentinel when the producer's transaction is already open here (nothing to
  // verify).
  VerificationGuard StartVerification(ProducerId id, int32_t first_seq, ProducerEpoch epoch,
                                      int64_t now_ms);
  const VerificationState* FindVerification(ProducerId id) const;
  // Records a written batch or marker; a newer epoch starts the producer's history afresh.
  // A transactional batch or marker ends the producer's verification. Returns the
  // transaction a marker ended.
  std::optional<CompletedTxn> Record(const ProducerAppend& a);
  void Record(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch);
  // Drops producers without an open transaction whose last write is older than
  // `cutoff_ms` (producer.id.expiration.ms), and verifications started before it.
  size_t ExpireBefore(int64_t cutoff_ms);
  // Forgets batches and transactions starting at or after `offset` (the log was truncated).
  void TruncateFrom(Offset offset);
  // Loads one producer's state (from a snapshot).
  void Restore(ProducerId id, ProducerEntry entry);
  void Clear() {
    producers_.clear();
    open_.clear();
    verifications_.clear();
  }

  // The first offset of the oldest open transaction, if any.
  std::optional<Offset> FirstUnstableOffset() const;
  // Kafka's last stable offset stored with an abort: the first offset of the oldest other
  // open transaction, or the offset after the marker.
  Offset LastStableOffsetAfter(const CompletedTxn& txn) const;
  std::vector<OpenTxn> OpenTxns() const;

  const ProducerEntry* Find(ProducerId id) const;
  size_t size() const { return producers_.size(); }
  const absl::flat_hash_map<int64_t, ProducerEntry>& producers() const { return producers_; }

 private:
  // Epoch and sequence rules against the producer's entry (nullptr: none yet).
  static Verdict CheckSequence(const ProducerEntry* entry, ProducerId id, ProducerEpoch epoch,
                               int32_t first_seq, int32_t last_seq);

  absl::flat_hash_map<int64_t, ProducerEntry> producers_;
  std::map<Offset, ProducerId> open_;  // open transactions by first offset
  absl::flat_hash_map<int64_t, VerificationState> verifications_;  // by producer id
};

}  // namespace fjord::storage
