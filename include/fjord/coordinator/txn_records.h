#pragma once
// The records of __transaction_state in Kafka's key/value format: the key is an int16
// version (0) followed by TransactionLogKey (the transactional id); the value an int16
// version followed by TransactionLogValue (versions 0, 1), or null for a tombstone.

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/coordinator/group_records.h"

namespace fjord::coordinator {

inline constexpr const char* kTransactionStateTopic = "__transaction_state";

// Kafka's transaction states, numbered as the log stores them.
enum class TxnState : int8_t {
  kEmpty = 0,
  kOngoing = 1,
  kPrepareCommit = 2,
  kPrepareAbort = 3,
  kCompleteCommit = 4,
  kCompleteAbort = 5,
  kDead = 6,
  kPrepareEpochFence = 7,
};
// Kafka's names ("Ongoing", "PrepareCommit", ...), as DescribeTransactions reports them.
const char* TxnStateName(TxnState s);
std::optional<TxnState> TxnStateByName(std::string_view name);  // case-insensitive

// One transactional id's state.
struct TxnMetadata {
  ProducerId producer_id{-1};
  ProducerEpoch epoch{-1};
  ProducerId last_producer_id{-1};  // before the last epoch bump (KIP-360 retries)
  ProducerEpoch last_epoch{-1};
  int32_t timeout_ms = 0;
  TxnState state = TxnState::kEmpty;
  std::set<std::pair<std::string, int32_t>> partitions;  // of the transaction in progress
  int64_t start_ms = -1;  // when the transaction began (Ongoing), -1 otherwise
  int64_t last_update_ms = 0;

  bool operator==(const TxnMetadata&) const = default;
};

// `txn` null: the tombstone that removes the transactional id.
KeyValue TxnRecord(const std::string& transactional_id, const TxnMetadata* txn);

struct DecodedTxnRecord {
  std::string transactional_id;
  std::optional<TxnMetadata> txn;  // nullopt: a tombstone
};
// kDataLoss for a key or value that does not decode (or an unknown state).
absl::StatusOr<DecodedTxnRecord> DecodeTxnRecord(std::span<const uint8_t> key,
                                                 std::optional<std::span<const uint8_t>> value);

}  // namespace fjord::coordinator
