#include "fjord/storage/producer_state.h"

#include "absl/strings/str_cat.h"

namespace fjord::storage {

namespace {

// The sequence after `seq`: sequences wrap from INT32_MAX to 0.
int32_t NextSeq(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

}  // namespace

ProducerStateTable::Verdict ProducerStateTable::Check(ProducerId id, ProducerEpoch epoch,
                                                      int32_t first_seq, int32_t last_seq) const {
  Verdict v;
  auto it = producers_.find(id.value);
  // No history (a new producer, or one whose batches were all removed): any sequence.
  if (it == producers_.end() || it->second.epoch.value < 0) return v;
  const ProducerEntry& e = it->second;
  if (epoch.value < e.epoch.value) {
    v.error = AppendError::kInvalidProducerEpoch;
    v.message = absl::StrCat("producer ", id.value, " epoch ", epoch.value,
                             " is older than its current epoch ", e.epoch.value);
    return v;
  }
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

void ProducerStateTable::Record(ProducerId id, ProducerEpoch epoch, const ProducerBatch& batch) {
  ProducerEntry& e = producers_[id.value];
  if (epoch.value != e.epoch.value) {
    e.epoch = epoch;
    e.batches.clear();
  }
  e.batches.push_back(batch);
  while (e.batches.size() > kMaxBatches) e.batches.pop_front();
  e.last_timestamp = std::max(e.last_timestamp, batch.max_timestamp);
}

size_t ProducerStateTable::ExpireBefore(int64_t cutoff_ms) {
  return absl::erase_if(
      producers_, [cutoff_ms](const auto& kv) { return kv.second.last_timestamp < cutoff_ms; });
}

void ProducerStateTable::TruncateFrom(Offset offset) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    auto& batches = it->second.batches;
    while (!batches.empty() && batches.back().last_offset >= offset) batches.pop_back();
    if (batches.empty()) {
      producers_.erase(it++);
    } else {
      ++it;
    }
  }
}

const ProducerEntry* ProducerStateTable::Find(ProducerId id) const {
  auto it = producers_.find(id.value);
  return it == producers_.end() ? nullptr : &it->second;
}

}  // namespace fjord::storage
