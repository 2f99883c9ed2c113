#include "fjord/coordinator/txn_shard.h"

#include "absl/strings/str_cat.h"
#include "fjord/protocol/record_batch.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

using txn_internal::Logger;

// The last epoch a producer id may reach; then the transactional id gets a new one.
constexpr int16_t kMaxEpoch = INT16_MAX - 1;

// Whether `at + after` (times read from the log, so possibly hostile) has come by `now`.
bool Due(int64_t at, int64_t after, int64_t now) {
  int64_t deadline;
  if (__builtin_add_overflow(at, after, &deadline)) return after < 0;
  return deadline <= now;
}

bool InPrepare(TxnState s) { return s == TxnState::kPrepareCommit || s == TxnState::kPrepareAbort; }

}  // namespace

TxnShard::TxnShard(Clock& clock, int32_t coordinator_epoch, Append append,
                   AllocateProducerId allocate, WriteMarkers write_markers, TxnConfig config)
    : clock_(clock),
      coordinator_epoch_(coordinator_epoch),
      append_(std::move(append)),
      allocate_(std::move(allocate)),
      write_markers_(std::move(write_markers)),
      config_(config) {}

TxnShard::~TxnShard() { *alive_ = false; }

// ---- Loading ----

absl::Status TxnShard::ReplayBatch(const protocol::RecordBatchView& batch) {
  if (batch.header().is_control()) return absl::OkStatus();
  protocol::RecordReader reader(batch);
  while (reader.Next()) {
    const protocol::Record& rec = reader.record();
    if (!rec.key) continue;
    absl::StatusOr<DecodedTxnRecord> r = DecodeTxnRecord(*rec.key, rec.value);
    if (!r.ok()) {
      if (LogUnreadable()) {
        Logger().warn("skipping the unreadable record at offset {}: {}", rec.offset.value,
                      r.status().message());
      }
      continue;
    }
    if (r->txn) {
      txns_[r->transactional_id] = std::move(*r->txn);
    } else {
      txns_.erase(r->transactional_id);
    }
  }
  return reader.status();
}

void TxnShard::FinishLoad() {
  std::vector<std::string> resume;
  for (const auto& [id, t] : txns_) {
    if (InPrepare(t.state)) resume.push_back(id);
  }
  for (const std::string& id : resume) {
    Logger().info("resuming the {} markers of transactional id {}",
                  txns_[id].state == TxnState::kPrepareCommit ? "COMMIT" : "ABORT", id);
    StartMarkers(id);
  }
}

void TxnShard::Unload() { *alive_ = false; }

std::string TxnShard::Summary() const {
  size_t open = 0;
  for (const auto& [id, t] : txns_) open += t.state == TxnState::kOngoing || InPrepare(t.state);
  return absl::StrCat(txns_.size(), " transactional ids, ", open, " open transactions");
}

// ---- Persisting ----

ErrorCode TxnShard::Store(const std::string& id, TxnMetadata next) {
  absl::Status s = append_(TxnRecord(id, &next));
  if (!s.ok()) {
    Logger().warn("writing the state of transactional id {} failed: {}", id, s.message());
    return absl::IsFailedPrecondition(s) ? ErrorCode::kNotCoordinator
                                         : ErrorCode::kCoordinatorNotAvailable;
  }
  txns_[id] = std::move(next);
  return ErrorCode::kNone;
}

ErrorCode TxnShard::CheckProducer(const TxnMetadata& t, ProducerId producer_id,
                                  ProducerEpoch epoch) {
  if (t.producer_id != producer_id) return ErrorCode::kInvalidProducerIdMapping;
  if (t.epoch != epoch) return ErrorCode::kProducerFenced;
  return ErrorCode::kNone;
}

const TxnMetadata* TxnShard::Find(const std::string& transactional_id) const {
  auto it = txns_.find(transactional_id);
  return it == txns_.end() ? nullptr : &it->second;
}

// ---- InitProducerId ----

void TxnShard::InitProducerId(const std::string& id, int32_t timeout_ms, ProducerId expected_id,
                              ProducerEpoch expected_epoch, std::function<void(InitResult)> done) {
  if (timeout_ms <= 0 || timeout_ms > config_.max_timeout_ms) {
    return done({ErrorCode::kInvalidTransactionTimeout});
  }
  if (allocating_.contains(id)) return done({ErrorCode::kConcurrentTransactions});
  auto it = txns_.find(id);
  if (it == txns_.end()) return InitWithNewProducerId(id, timeout_ms, std::move(done));
  const TxnMetadata& t = it->second;
  if (expected_id.value >= 0) {
    // KIP-360: a producer recovering from an error names the id and epoch it has; a
    // retry of the bump that already happened gets the current ones again.
    const bool current = expected_id == t.producer_id && expected_epoch == t.epoch;
    const bool retried = expected_id == t.last_producer_id && expected_epoch == t.last_epoch;
    if (!current && !retried) return done({ErrorCode::kProducerFenced});
    if (retried && t.state == TxnState::kEmpty) {
      return done({ErrorCode::kNone, t.producer_id, t.epoch});
    }
  }
  if (InPrepare(t.state) || t.state == TxnState::kPrepareEpochFence) {
    return done({ErrorCode::kConcurrentTransactions});
  }
  if (t.state == TxnState::kOngoing) {
    // Fence the old producer: abort its transaction with the next epoch. The client
    // retries and gets the epoch after that once the abort completes.
    TxnMetadata next = t;
    next.epoch = ProducerEpoch(static_cast<int16_t>(t.epoch.value + 1));
    Logger().info("transactional id {} initialised again: aborting its open transaction", id);
    ErrorCode e = Prepare(id, std::move(next), false);
    return done({e == ErrorCode::kNone ? ErrorCode::kConcurrentTransactions : e});
  }
  if (t.epoch.value >= kMaxEpoch) return InitWithNewProducerId(id, timeout_ms, std::move(done));
  TxnMetadata next = t;
  next.last_producer_id = t.producer_id;
  next.last_epoch = t.epoch;
  next.epoch = ProducerEpoch(static_cast<int16_t>(t.epoch.value + 1));
  next.timeout_ms = timeout_ms;
  next.state = TxnState::kEmpty;
  next.partitions.clear();
  next.start_ms = -1;
  next.last_update_ms = clock_.NowMs();
  const ProducerId pid = next.producer_id;
  const ProducerEpoch epoch = next.epoch;
  ErrorCode e = Store(id, std::move(next));
  done({e, e == ErrorCode::kNone ? pid : ProducerId(-1),
        e == ErrorCode::kNone ? epoch : ProducerEpoch(-1)});
}

void TxnShard::InitWithNewProducerId(const std::string& id, int32_t timeout_ms,
                                     std::function<void(InitResult)> done) {
  allocating_.insert(id);
  allocate_(
      [this, alive = alive_, id, timeout_ms, done = std::move(done)](absl::StatusOr<int64_t> pid) {
        if (!*alive) return done({ErrorCode::kNotCoordinator});
        allocating_.erase(id);
        if (!pid.ok()) {
          Logger().warn("no producer id for transactional id {}: {}", id, pid.status().message());
          return done({ErrorCode::kCoordinatorNotAvailable});
        }
        TxnMetadata next;
        if (const TxnMetadata* old = Find(id)) {
          next.last_producer_id = old->producer_id;
          next.last_epoch = old->epoch;
        }
        next.producer_id = ProducerId(*pid);
        next.epoch = ProducerEpoch(0);
        next.timeout_ms = timeout_ms;
        next.state = TxnState::kEmpty;
        next.last_update_ms = clock_.NowMs();
        ErrorCode e = Store(id, next);
        if (e != ErrorCode::kNone) return done({e});
        done({ErrorCode::kNone, next.producer_id, next.epoch});
      });
}

// ---- The transaction ----

ErrorCode TxnShard::AddPartitions(const std::string& id, ProducerId producer_id,
                                  ProducerEpoch epoch,
                                  const std::vector<std::pair<std::string, int32_t>>& partitions) {
  auto it = txns_.find(id);
  if (it == txns_.end()) return ErrorCode::kInvalidProducerIdMapping;
  const TxnMetadata& t = it->second;
  if (ErrorCode e = CheckProducer(t, producer_id, epoch); e != ErrorCode::kNone) return e;
  if (InPrepare(t.state) || t.state == TxnState::kPrepareEpochFence) {
    return ErrorCode::kConcurrentTransactions;
  }
  if (t.state == TxnState::kDead) return ErrorCode::kInvalidTxnState;
  bool all_in = t.state == TxnState::kOngoing;
  for (const auto& p : partitions) all_in = all_in && t.partitions.contains(p);
  if (all_in) return ErrorCode::kNone;
  TxnMetadata next = t;
  const int64_t now = clock_.NowMs();
  if (t.state != TxnState::kOngoing) {
    next.state = TxnState::kOngoing;
    next.partitions.clear();
    next.start_ms = now;
  }
  next.partitions.insert(partitions.begin(), partitions.end());
  next.last_update_ms = now;
  return Store(id, std::move(next));
}

TxnShard::Verdicts TxnShard::VerifyPartitions(
    const std::string& id, ProducerId producer_id, ProducerEpoch epoch,
    const std::vector<std::pair<std::string, int32_t>>& partitions) const {
  Verdicts v;
  auto it = txns_.find(id);
  if (it == txns_.end()) {
    v.error = ErrorCode::kInvalidProducerIdMapping;
    return v;
  }
  const TxnMetadata& t = it->second;
  v.error = CheckProducer(t, producer_id, epoch);
  if (v.error == ErrorCode::kNone && InPrepare(t.state))
    v.error = ErrorCode::kConcurrentTransactions;
  if (v.error != ErrorCode::kNone) return v;
  // Partitions join when AddPartitions is persisted and leave when the transaction ends.
  const bool open = t.state == TxnState::kOngoing;
  for (const auto& p : partitions) {
    v.partitions.push_back(open && t.partitions.contains(p) ? ErrorCode::kNone
                                                            : ErrorCode::kTransactionAbortable);
  }
  return v;
}

ErrorCode TxnShard::EndTxn(const std::string& id, ProducerId producer_id, ProducerEpoch epoch,
                           bool commit) {
  auto it = txns_.find(id);
  if (it == txns_.end()) return ErrorCode::kInvalidProducerIdMapping;
  const TxnMetadata& t = it->second;
  if (ErrorCode e = CheckProducer(t, producer_id, epoch); e != ErrorCode::kNone) return e;
  switch (t.state) {
    case TxnState::kOngoing:
      return Prepare(id, t, commit);
    case TxnState::kCompleteCommit:
      // A retried EndTxn of a finished transaction is answered again.
      return commit ? ErrorCode::kNone : ErrorCode::kInvalidTxnState;
    case TxnState::kCompleteAbort:
      return commit ? ErrorCode::kInvalidTxnState : ErrorCode::kNone;
    case TxnState::kPrepareCommit:
      return commit ? ErrorCode::kConcurrentTransactions : ErrorCode::kInvalidTxnState;
    case TxnState::kPrepareAbort:
      return commit ? ErrorCode::kInvalidTxnState : ErrorCode::kConcurrentTransactions;
    case TxnState::kPrepareEpochFence:
      return ErrorCode::kConcurrentTransactions;
    case TxnState::kEmpty:
    case TxnState::kDead:
      break;
  }
  return ErrorCode::kInvalidTxnState;  // no transaction to end
}

ErrorCode TxnShard::Prepare(const std::string& id, TxnMetadata next, bool commit) {
  next.state = commit ? TxnState::kPrepareCommit : TxnState::kPrepareAbort;
  next.last_update_ms = clock_.NowMs();
  if (ErrorCode e = Store(id, std::move(next)); e != ErrorCode::kNone) return e;
  StartMarkers(id);
  return ErrorCode::kNone;
}

void TxnShard::StartMarkers(const std::string& id) {
  const TxnMetadata& t = txns_.at(id);
  TxnMarkers m;
  m.producer_id = t.producer_id;
  m.epoch = t.epoch;
  m.commit = t.state == TxnState::kPrepareCommit;
  m.coordinator_epoch = coordinator_epoch_;
  m.partitions.assign(t.partitions.begin(), t.partitions.end());
  write_markers_(std::move(m), [this, alive = alive_, id, pid = t.producer_id, epoch = t.epoch] {
    if (*alive) MarkersWritten(id, pid, epoch);
  });
}

void TxnShard::MarkersWritten(const std::string& id, ProducerId producer_id, ProducerEpoch epoch) {
  auto it = txns_.find(id);
  if (it == txns_.end() || !InPrepare(it->second.state) || it->second.producer_id != producer_id ||
      it->second.epoch != epoch) {
    return;
  }
  TxnMetadata next = it->second;
  next.state =
      next.state == TxnState::kPrepareCommit ? TxnState::kCompleteCommit : TxnState::kCompleteAbort;
  next.partitions.clear();
  next.start_ms = -1;
  next.last_update_ms = clock_.NowMs();
  // A failed write leaves the Prepare state: the next coordinator writes the markers again.
  Store(id, std::move(next));
}

// ---- Timeouts ----

void TxnShard::Tick() {
  const int64_t now = clock_.NowMs();
  std::vector<std::string> timed_out;
  std::vector<std::string> expired;
  for (const auto& [id, t] : txns_) {
    if (t.state == TxnState::kOngoing && Due(t.start_ms, t.timeout_ms, now)) {
      timed_out.push_back(id);
    } else if ((t.state == TxnState::kEmpty || t.state == TxnState::kCompleteCommit ||
                t.state == TxnState::kCompleteAbort) &&
               Due(t.last_update_ms, config_.id_expiration_ms, now)) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : timed_out) {
    TxnMetadata next = txns_.at(id);
    Logger().info("aborting the transaction of {} (producer {} epoch {}): open for more than {} ms",
                  id, next.producer_id.value, next.epoch.value, next.timeout_ms);
    // The bumped epoch fences the producer that let its transaction time out.
    if (next.epoch.value < kMaxEpoch)
      next.epoch = ProducerEpoch(static_cast<int16_t>(next.epoch.value + 1));
    Prepare(id, std::move(next), false);
  }
  for (const std::string& id : expired) {
    if (append_(TxnRecord(id, nullptr)).ok()) {
      Logger().info("transactional id {} expired", id);
      txns_.erase(id);
    }
  }
}

}  // namespace fjord::coordinator
