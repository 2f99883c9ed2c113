// The log's producer state (KIP-98): checks and records appends, rebuilds the table on
// load from the newest readable snapshot plus the batches after it, and writes, loads and
// removes `<offset>.snapshot` files.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log.h"
#include "fjord/storage/producer_snapshot.h"
#include "logger.h"

namespace fjord::storage {

absl::StatusOr<std::optional<ProducerBatch>> Log::CheckProducers(
    const LogAppendInfo& info, std::optional<VerificationGuard> verification) const {
  std::optional<ProducerBatch> duplicate;
  for (const ProducerAppend& a : info.producer_batches) {
    ProducerStateTable::Verdict v = producers_.Check(a);
    // Kafka's order: a retried batch is answered with its offsets before anything else;
    // then the verification, then the epoch and sequence.
    if (v.duplicate) {
      duplicate = v.duplicate;
      continue;
    }
    ProducerStateTable::Verdict verified;
    if (verification) verified = producers_.CheckVerification(a, *verification);
    if (verified.error == AppendError::kInvalidTxnState) {
      return AppendFailure(verified.error, std::move(verified.message));
    }
    if (v.error != AppendError::kNone) return AppendFailure(v.error, std::move(v.message));
    if (verified.error != AppendError::kNone) {
      return AppendFailure(verified.error, std::move(verified.message));
    }
  }
  return duplicate;
}

VerificationGuard Log::StartTxnVerification(ProducerId producer_id, int32_t first_seq,
                                            ProducerEpoch epoch) {
  absl::MutexLock lock(&mu_);
  return producers_.StartVerification(producer_id, first_seq, epoch, clock_.NowMs());
}

absl::Status Log::RecordProducers(const std::vector<ProducerAppend>& appends) {
  for (const ProducerAppend& a : appends) {
    std::optional<CompletedTxn> done = producers_.Record(a);
    if (!done || !done->aborted) continue;
    // The marker went to the active segment: its index lists the abort.
    AbortedTxn entry{done->producer_id, done->first_offset, done->last_offset,
                     producers_.LastStableOffsetAfter(*done)};
    auto seg = segments_.upper_bound(done->last_offset);
    if (seg == segments_.begin()) continue;
    --seg;
    if (absl::Status s = seg->second->txn_index().Append(entry); !s.ok()) {
      Logger().error("{}: transaction index append for the abort at {} failed: {}", dir_,
                     done->last_offset.value, s.message());
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Log::LoadProducers(const std::vector<Offset>& snapshots) {
  // The newest snapshot that reads back whole; older ones stay for a later fallback.
  // Those past the log end (a recovery cut the log) or before its first segment (their
  // segments are gone) no longer describe this log.
  const Offset first = segments_.begin()->first;
  const Offset leo = active().next_offset();
  Offset from = first;
  bool loaded = false;
  std::vector<Offset> newest_first(snapshots);
  std::sort(newest_first.rbegin(), newest_first.rend());
  for (Offset at : newest_first) {
    const std::string path = ProducerSnapshotPath(at);
    if (at > leo || at < first) {
      if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
      continue;
    }
    if (!loaded) {
      absl::StatusOr<std::vector<uint8_t>> bytes = fs_.ReadWholeFile(path);
      if (!bytes.ok()) return bytes.status();
      absl::StatusOr<ProducerStateTable> table = DecodeProducerSnapshot(*bytes, at);
      if (!table.ok()) {
        Logger().warn("{}: {}: {}; deleting it and reading the segments instead", dir_, path,
                      table.status().message());
        if (absl::Status s = fs_.Remove(path); !s.ok()) return s;
        continue;
      }
      producers_ = std::move(*table);
      from = at;
      loaded = true;
    }
    snapshots_.insert(at);
  }
  // The batch headers after the snapshot are read back; a control batch's marker is read
  // whole (they are a few dozen bytes). Without a snapshot that is every segment: an open
  // transaction may have begun anywhere.
  auto it = segments_.upper_bound(from);
  if (it != segments_.begin()) --it;
  const Offset skip_below = std::max(from, log_start_offset_);
  for (; it != segments_.end(); ++it) {
    Segment& seg = *it->second;
    absl::Status marker_status;
    absl::Status s = seg.ForEachBatchHeader([&](const protocol::RecordBatchHeader& h) {
      if (h.last_offset() < skip_below || !marker_status.ok()) return;
      if (!h.is_control()) {
        if (auto a = ProducerAppendOf(h, h.base_offset, h.max_timestamp)) producers_.Record(*a);
        return;
      }
      if (!h.is_transactional()) return;
      marker_status = ReplayMarker(seg, h);
    });
    if (!s.ok()) return s;
    if (!marker_status.ok()) return marker_status;
  }
  return absl::OkStatus();
}

void Log::TakeProducerSnapshot(Offset offset) {
  std::erase_if(pending_snapshots_, [&](const PendingSnapshot& p) { return p.offset == offset; });
  pending_snapshots_.push_back({offset, EncodeProducerSnapshot(producers_)});
}

std::string Log::ProducerSnapshotPath(Offset offset) const {
  return JoinPath(dir_, Segment::FileName(offset, kProducerSnapshotSuffix));
}

void Log::WriteProducerSnapshots(Offset offset) {
  std::vector<PendingSnapshot> due;
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    auto split = std::stable_partition(pending_snapshots_.begin(), pending_snapshots_.end(),
                                       [&](const PendingSnapshot& p) { return p.offset > offset; });
    std::move(split, pending_snapshots_.end(), std::back_inserter(due));
    pending_snapshots_.erase(split, pending_snapshots_.end());
    generation = truncations_;
  }
  for (const PendingSnapshot& p : due) {
    const std::string path = ProducerSnapshotPath(p.offset);
    const std::string tmp = path + ".tmp";
    absl::Status s = [&]() -> absl::Status {
      absl::StatusOr<std::unique_ptr<File>> f = fs_.Open(tmp, /*create=*/true);
      if (!f.ok()) return f.status();
      if (absl::Status st = (*f)->Truncate(0); !st.ok()) return st;
      if (absl::Status st = (*f)->WriteAt(0, p.bytes); !st.ok()) return st;
      return (*f)->Sync();
    }();
    absl::MutexLock lock(&mu_);
    // A truncation since it was taken may have removed offsets it covers.
    if (s.ok() && truncations_ == generation && p.offset <= active().next_offset()) {
      s = fs_.Rename(tmp, path);
      if (s.ok()) {
        snapshots_.insert(p.offset);
        dir_dirty_ = true;
        continue;
      }
    }
    if (!s.ok()) {
      Logger().warn(
          "{}: producer snapshot at offset {} not written ({}); a restart reads the "
          "segments after the previous one",
          dir_, p.offset.value, s.message());
    }
    if (fs_.Exists(tmp)) (void)fs_.Remove(tmp);
  }
}

void Log::RemoveProducerSnapshots(const std::function<bool(Offset)>& doomed) {
  std::erase_if(pending_snapshots_, [&](const PendingSnapshot& p) { return doomed(p.offset); });
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    if (!doomed(*it)) {
      ++it;
      continue;
    }
    if (absl::Status s = fs_.Remove(ProducerSnapshotPath(*it)); !s.ok()) {
      Logger().warn("{}: removing the producer snapshot at offset {}: {}", dir_, it->value,
                    s.message());
    }
    it = snapshots_.erase(it);
    dir_dirty_ = true;
  }
}

absl::Status Log::ReplayMarker(Segment& seg, const protocol::RecordBatchHeader& h) {
  absl::StatusOr<Segment::ReadSlice> slice =
      seg.Read(h.base_offset, h.size_in_bytes(), h.next_offset(), true);
  if (!slice.ok()) return slice.status();
  if (!slice->region) return absl::OkStatus();
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadRegions({*slice->region});
  if (!bytes.ok()) return bytes.status();
  protocol::RecordBatchIterator it(*bytes);
  if (!it.Next()) return it.status();
  absl::StatusOr<std::optional<ProducerAppend>> m = MarkerAppendOf(it.batch(), h.base_offset);
  if (!m.ok()) return m.status();
  if (!*m) return absl::OkStatus();
  // Aborts already in the index (written before the stop) are not indexed again.
  std::optional<CompletedTxn> done = producers_.Record(**m);
  if (!done || !done->aborted) return absl::OkStatus();
  std::optional<Offset> indexed = seg.txn_index().last_offset();
  if (indexed && *indexed >= done->last_offset) return absl::OkStatus();
  AbortedTxn entry{done->producer_id, done->first_offset, done->last_offset,
                   producers_.LastStableOffsetAfter(*done)};
  return seg.txn_index().Append(entry);
}

std::vector<std::pair<ProducerId, ProducerEntry>> Log::Producers() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::pair<ProducerId, ProducerEntry>> out;
  for (const auto& [id, e] : producers_.producers()) out.emplace_back(ProducerId(id), e);
  return out;
}

size_t Log::ExpireProducers(int64_t cutoff_ms) {
  absl::MutexLock lock(&mu_);
  return producers_.ExpireBefore(cutoff_ms);
}

}  // namespace fjord::storage
