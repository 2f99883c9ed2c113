#include "fjord/storage/producer_state.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace fjord::storage {

namespace {

// The sequence after `seq`: sequences wrap from INT32_MAX to 0.
int32_t NextSeq(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

// Guards are unique across every partition of the process, so a guard handed out by one
// log (or before a log was reopened) never matches another's.
std::atomic<uint64_t> next_guard{1};

}  // namespace

ProducerStateTable::Verdict ProducerStateTable::Check(ProducerId id, ProducerEpoch epoch,
                                                      int32_t first_seq, int32_t last_seq) const {
  return CheckSequence(Find(id), id, epoch, first_seq, last_seq);
}

ProducerStateTable::Verdict ProducerStateTable::CheckSequence(const ProducerEntry* entry,
                                                              ProducerId id, ProducerEpoch epoch,
                                                              int32_t first_seq, int32_t last_seq) {
  Verdict v;
  // No history (a new producer, or one whose batches were all removed): any sequence.
  if (entry == nullptr || entry->epoch.value < 0) return v;
  const ProducerEntry& e = *entry;
  if (epoch.value < e.epoch.value) {
    v.error = AppendError::kInvalidProducerEpoch;
    v.message = absl::StrCat("producer ", id.value, " epoch ", epoch.value,
                             " is older than its current epoch ", e.epoch.value);
    return v;
  }
  if (first_seq < 0) return v;  // no sequence to check (a coordinator's batch)
  if (epoch.value > e.epoch.value) {
    // A bumped epoch (KIP-360) starts again at sequence 0.
    if (first_seq != 0) {
      v.error = AppendError::kOutOfOrderSequence;
      v.message = absl::StrCat("producer ", id.value, " starts epoch ", epoch.value,
                               " at sequence ", first_seq, ", not 0");
    }
    return v;
  }
  for (const ProducerBatch& b : e.batches) {
    if (b.first_seq == first_seq && b.last_seq == last_seq) {
      v.duplicate = b;
      return v;
    }
  }
  if (!e.batches.empty() && first_seq != NextSeq(e.batches.back().last_seq)) {
    v.error = AppendError::kOutOfOrderSequence;
    v.message = absl::StrCat("producer ", id.value, " sent sequence ", first_seq, " after ",
                             e.batches.back().last_seq);
  }
  return v;
}

ProducerStateTable::Verdict ProducerStateTable::Check(const ProducerAppend& a) const {
  const ProducerEntry* e = Find(a.producer_id);
  Verdict v =
      CheckSequence(e, a.producer_id, a.epoch, a.marker ? -1 : a.batch.first_seq, a.batch.last_seq);
  if (v.error != AppendError::kNone || v.duplicate || e == nullptr) return v;
  if (a.marker && a.marker->coordinator_epoch < e->coordinator_epoch) {
    v.error = AppendError::kCoordinatorFenced;
    v.message =
        absl::StrCat("marker for producer ", a.producer_id.value, " from coordinator epoch ",
                     a.marker->coordinator_epoch, " after epoch ", e->coordinator_epoch);
  } else if (!a.marker && !a.transactional && e->txn_first_offset && a.epoch == e->epoch) {
    v.error = AppendError::kInvalidTxnState;
    v.message = absl::StrCat("producer ", a.producer_id.value,
                             " wrote a non-transactional batch while its transaction from offset ",
                             e->txn_first_offset->value, " is open");
  }
  return v;
}

ProducerStateTable::Verdict ProducerStateTable::CheckVerification(const ProducerAppend& a,
                                                                  VerificationGuard guard) const {
  Verdict v;
  if (a.marker) return v;
  const VerificationState* state = FindVerification(a.producer_id);
  if (a.transactional && !HasOngoingTxn(a.producer_id) &&
      (state == nullptr || guard.is_sentinel() || state->guard != guard)) {
    v.error = AppendError::kInvalidTxnState;
    v.message = absl::StrCat("producer ", a.producer_id.value,
                             ": record was not part of an ongoing transaction");
    return v;
  }
  if (state != nullptr && a.batch.first_seq >= 0 && a.batch.first_seq > state->lowest_seq) {
    v.error = AppendError::kOutOfOrderSequence;
    v.message = absl::StrCat("producer ", a.producer_id.value, " sent sequence ", a.batch.first_seq,
                             " while sequence ", state->lowest_seq,
                             " waits for its transaction to be verified");
  }
  return v;
}

bool ProducerStateTable::HasOngoingTxn(ProducerId id) const {
  const ProducerEntry* e = Find(id);
  return e != nullptr && e->txn_first_offset.has_value();
}

VerificationGuard ProducerStateTable::StartVerification(ProducerId id, int32_t first_seq,
                                                        ProducerEpoch epoch, int64_t now_ms) {
  if (HasOngoingTxn(id)) return VerificationGuard{};
  auto [it, fresh] = verifications_.try_emplace(id.value);
  VerificationState& s = it->second;
  if (fresh) {
    s.guard = VerificationGuard{next_guard.fetch_add(1, std::memory_order_relaxed)};
    s.created_ms = now_ms;
    s.lowest_seq = first_seq;
    s.epoch = epoch;
  } else if (epoch.value > s.epoch.value) {
    // A bumped epoch restarts the sequences.
    s.epoch = epoch;
    s.lowest_seq = first_seq;
  } else if (epoch == s.epoch && first_seq < s.lowest_seq) {
    s.lowest_seq = first_seq;
  }
  return s.guard;
}

const VerificationState* ProducerStateTable::FindVerification(ProducerId id) const {
  auto it = verifications_.find(id.value);
  return it == verifications_.end() ? nullptr : &it->second;
}

std::optional<CompletedTxn> ProducerStateTable::Record(const ProducerAppend& a) {
  // The transaction is open (a data batch) or over (a marker): the guard has served.
  if (a.transactional || a.marker) verifications_.erase(a.producer_id.value);
  ProducerEntry& e = producers_[a.producer_id.value];
  if (a.epoch.value != e.epoch.value) {
    e.epoch = a.epoch;
    e.batches.clear();
  }
  e.last_timestamp = std::max(e.last_timestamp, a.batch.max_timestamp);
  if (a.marker) {
    e.coordinator_epoch = a.marker->coordinator_epoch;
    CompletedTxn done{a.producer_id, e.txn_first_offset.value_or(a.batch.first_offset),
                      a.batch.first_offset, !a.marker->commit};
    if (e.txn_first_offset) open_.erase(*e.txn_first_offset);
    e.txn_first_offset.reset();
    return done;
  }
  if (a.batch.first_seq >= 0) {
    e.batches.push_back(a.batch);
    while (e.batches.size() > kMaxBatches) e.batches.pop_front();
  }
  if (a.transactional && !e.txn_first_offset) {
    e.txn_first_offset = a.batch.first_offset;
    open_.emplace(a.batch.first_offset, a.producer_id);
  }
  return std::nullopt;
}

void ProducerStateTable::Record(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch) {
  ProducerAppend a;
  a.producer_id = id;
  a.epoch = epoch;
  a.batch = batch;
  Record(a);
}

void ProducerStateTable::Restore(ProducerId id, ProducerEntry entry) {
  if (entry.txn_first_offset) open_.emplace(*entry.txn_first_offset, id);
  producers_[id.value] = std::move(entry);
}

size_t ProducerStateTable::ExpireBefore(int64_t cutoff_ms) {
  absl::erase_if(verifications_,
                 [cutoff_ms](const auto& kv) { return kv.second.created_ms < cutoff_ms; });
  return absl::erase_if(producers_, [cutoff_ms](const auto& kv) {
    return !kv.second.txn_first_offset && kv.second.last_timestamp < cutoff_ms;
  });
}

void ProducerStateTable::TruncateFrom(Offset offset) {
  for (auto it = open_.lower_bound(offset); it != open_.end();) {
    producers_[it->second.value].txn_first_offset.reset();
    it = open_.erase(it);
  }
  for (auto it = producers_.begin(); it != producers_.end();) {
    auto& batches = it->second.batches;
    while (!batches.empty() && batches.back().last_offset >= offset) batches.pop_back();
    if (batches.empty() && !it->second.txn_first_offset) {
      producers_.erase(it++);
    } else {
      ++it;
    }
  }
}

std::optional<Offset> ProducerStateTable::FirstUnstableOffset() const {
  if (open_.empty()) return std::nullopt;
  return open_.begin()->first;
}

Offset ProducerStateTable::LastStableOffsetAfter(const CompletedTxn& txn) const {
  for (const auto& [first, id] : open_) {
    if (id != txn.producer_id) return first;
  }
  return txn.last_offset + 1;
}

std::vector<OpenTxn> ProducerStateTable::OpenTxns() const {
  std::vector<OpenTxn> out;
  for (const auto& [first, id] : open_) out.push_back(OpenTxn{id, first});
  return out;
}

const ProducerEntry* ProducerStateTable::Find(ProducerId id) const {
  auto it = producers_.find(id.value);
  return it == producers_.end() ? nullptr : &it->second;
}

}  // namespace fjord::storage
