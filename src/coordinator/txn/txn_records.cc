#include "fjord/coordinator/txn_records.h"

#include <map>

#include "../common/versioned_record.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "fjord/protocol/txn/transaction_log_key.h"
#include "fjord/protocol/txn/transaction_log_value.h"

namespace fjord::coordinator {

namespace {

constexpr int16_t kKeyVersion = 0;
constexpr int16_t kValueVersion = 0;
constexpr const char* kTopic = kTransactionStateTopic;

constexpr std::pair<TxnState, const char*> kNames[] = {
    {TxnState::kEmpty, "Empty"},
    {TxnState::kOngoing, "Ongoing"},
    {TxnState::kPrepareCommit, "PrepareCommit"},
    {TxnState::kPrepareAbort, "PrepareAbort"},
    {TxnState::kCompleteCommit, "CompleteCommit"},
    {TxnState::kCompleteAbort, "CompleteAbort"},
    {TxnState::kDead, "Dead"},
    {TxnState::kPrepareEpochFence, "PrepareEpochFence"},
};

}  // namespace

const char* TxnStateName(TxnState s) {
  for (const auto& [state, name] : kNames) {
    if (state == s) return name;
  }
  return "Unknown";
}

std::optional<TxnState> TxnStateByName(std::string_view name) {
  for (const auto& [state, n] : kNames) {
    if (absl::EqualsIgnoreCase(n, absl::string_view(name.data(), name.size()))) return state;
  }
  return std::nullopt;
}

KeyValue TxnRecord(const std::string& transactional_id, const TxnMetadata* txn) {
  protocol::txn::TransactionLogKey k;
  k.transactional_id = transactional_id;
  KeyValue kv{VersionedRecord(kKeyVersion, k), std::nullopt};
  if (txn == nullptr) return kv;
  protocol::txn::TransactionLogValue v;
  v.producer_id = txn->producer_id;
  v.producer_epoch = txn->epoch;
  v.transaction_timeout_ms = txn->timeout_ms;
  v.transaction_status = static_cast<int8_t>(txn->state);
  std::map<std::string, std::vector<PartitionId>> by_topic;
  for (const auto& [topic, partition] : txn->partitions) {
    by_topic[topic].push_back(PartitionId(partition));
  }
  v.transaction_partitions.emplace();
  for (auto& [topic, partitions] : by_topic) {
    protocol::txn::TransactionLogValue::PartitionsSchema ps;
    ps.topic = topic;
    ps.partition_ids = std::move(partitions);
    v.transaction_partitions->push_back(std::move(ps));
  }
  v.transaction_last_update_timestamp_ms = txn->last_update_ms;
  v.transaction_start_timestamp_ms = txn->start_ms;
  kv.value = VersionedRecord(kValueVersion, v);
  return kv;
}

absl::StatusOr<DecodedTxnRecord> DecodeTxnRecord(std::span<const uint8_t> key,
                                                 std::optional<std::span<const uint8_t>> value) {
  absl::StatusOr<int16_t> kv = SplitRecordVersion(&key, kTopic, "key");
  if (!kv.ok()) return kv.status();
  protocol::txn::TransactionLogKey k;
  if (absl::Status s = DecodeRecordVersion(key, *kv, &k, kTopic, "key"); !s.ok()) return s;
  DecodedTxnRecord out;
  out.transactional_id = std::move(k.transactional_id);
  if (!value) return out;
  absl::StatusOr<int16_t> vv = SplitRecordVersion(&*value, kTopic, "value");
  if (!vv.ok()) return vv.status();
  protocol::txn::TransactionLogValue v;
  if (absl::Status s = DecodeRecordVersion(*value, *vv, &v, kTopic, "value"); !s.ok()) return s;
  if (v.transaction_status < 0 ||
      v.transaction_status > static_cast<int8_t>(TxnState::kPrepareEpochFence)) {
    return absl::DataLossError(
        absl::StrCat(kTopic, " value has unknown transaction state ", v.transaction_status));
  }
  TxnMetadata& t = out.txn.emplace();
  t.producer_id = v.producer_id;
  t.epoch = v.producer_epoch;
  t.last_producer_id = v.previous_producer_id;
  t.timeout_ms = v.transaction_timeout_ms;
  t.state = static_cast<TxnState>(v.transaction_status);
  if (v.transaction_partitions) {
    for (const auto& ps : *v.transaction_partitions) {
      for (PartitionId p : ps.partition_ids) t.partitions.emplace(ps.topic, p.value);
    }
  }
  t.last_update_ms = v.transaction_last_update_timestamp_ms;
  t.start_ms = v.transaction_start_timestamp_ms;
  return out;
}

}  // namespace fjord::coordinator
