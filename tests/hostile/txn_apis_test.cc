// Transaction APIs called out of turn: timeouts out of range, transactional ids the
// coordinator does not know, the wrong producer id, an old epoch, and EndTxn with nothing
// in the transaction. Each asserts Kafka's TransactionCoordinator answer.

#include <limits>

#include "fjord/protocol/messages/add_offsets_to_txn_request.h"
#include "fjord/protocol/messages/add_offsets_to_txn_response.h"
#include "fjord/protocol/messages/end_txn_request.h"
#include "fjord/protocol/messages/end_txn_response.h"
#include "fjord/protocol/messages/init_producer_id_request.h"
#include "fjord/protocol/messages/init_producer_id_response.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

class TxnApisTest : public HostileTest {
 protected:
  absl::StatusOr<protocol::InitProducerIdResponse> Init(const std::string& id, int32_t timeout_ms) {
    protocol::InitProducerIdRequest req;
    req.transactional_id = id;
    req.transaction_timeout_ms = timeout_ms;
    return client().CallWithin<protocol::InitProducerIdResponse>(std::chrono::milliseconds(20000),
                                                                 client::Target::Txn(id), req);
  }
  ErrorCode EndTxn(const std::string& id, int64_t pid, int16_t epoch, bool commit) {
    protocol::EndTxnRequest req;
    req.transactional_id = id;
    req.producer_id = ProducerId(pid);
    req.producer_epoch = ProducerEpoch(epoch);
    req.committed = commit;
    // v4: transactions version 1 (EndTxn v5 is not served).
    auto resp = client().Call<protocol::EndTxnResponse>(client::Target::Txn(id), req, nullptr, 4);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? Err(resp->error_code) : ErrorCode::kUnknownServerError;
  }
};

// TransactionStateManager.validateTransactionTimeoutMs: 0 < timeout <= 900000 (the
// default transaction.max.timeout.ms).
TEST_F(TxnApisTest, InitProducerIdWithATimeoutOutOfRangeIsInvalidTransactionTimeout) {
  for (int32_t t :
       {0, -1, std::numeric_limits<int32_t>::min(), 900001, std::numeric_limits<int32_t>::max()}) {
    auto r = Init("timeouts", t);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Err(r->error_code), ErrorCode::kInvalidTransactionTimeout) << t;
    EXPECT_EQ(r->producer_id, ProducerId(-1)) << t;
  }
  auto r = Init("timeouts", 900000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Err(r->error_code), ErrorCode::kNone);
  EXPECT_GE(r->producer_id.value, 0);
  ExpectUnharmed(64 * 1024);
}

TEST_F(TxnApisTest, EndTxnOfAnUnknownTransactionalIdIsInvalidProducerIdMapping) {
  ASSERT_TRUE(Init("known", 60000).ok());  // the coordinator's topic exists
  EXPECT_EQ(EndTxn("never-initialised", 1, 0, true), ErrorCode::kInvalidProducerIdMapping);
  EXPECT_EQ(EndTxn("never-initialised", 1, 0, false), ErrorCode::kInvalidProducerIdMapping);
  ExpectUnharmed(64 * 1024);
}

TEST_F(TxnApisTest, AddOffsetsToTxnOfAnUnknownTransactionalIdIsInvalidProducerIdMapping) {
  ASSERT_TRUE(Init("known-2", 60000).ok());
  protocol::AddOffsetsToTxnRequest req;
  req.transactional_id = "never-initialised-2";
  req.producer_id = ProducerId(5);
  req.producer_epoch = ProducerEpoch(0);
  req.group_id = "g";
  auto resp = client().Call<protocol::AddOffsetsToTxnResponse>(
      client::Target::Txn("never-initialised-2"), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(Err(resp->error_code), ErrorCode::kInvalidProducerIdMapping);
  ExpectUnharmed(64 * 1024);
}

// Against an initialised id: another producer id is INVALID_PRODUCER_ID_MAPPING, another
// epoch PRODUCER_FENCED, and the right ones with nothing added INVALID_TXN_STATE (the
// transaction is Empty).
TEST_F(TxnApisTest, EndTxnWithWrongIdsOrNothingAddedGetsKafkasErrors) {
  auto r = Init("end-wrong", 60000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Err(r->error_code), ErrorCode::kNone);
  const int64_t pid = r->producer_id.value;
  const int16_t epoch = r->producer_epoch.value;
  EXPECT_EQ(EndTxn("end-wrong", pid + 1000, epoch, true), ErrorCode::kInvalidProducerIdMapping);
  EXPECT_EQ(EndTxn("end-wrong", pid, static_cast<int16_t>(epoch + 1), true),
            ErrorCode::kProducerFenced);
  EXPECT_EQ(EndTxn("end-wrong", pid, epoch, true), ErrorCode::kInvalidTxnState);
  EXPECT_EQ(EndTxn("end-wrong", pid, epoch, false), ErrorCode::kInvalidTxnState);
  // A second InitProducerId bumps the epoch: the first one is fenced.
  auto again = Init("end-wrong", 60000);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(Err(again->error_code), ErrorCode::kNone);
  EXPECT_GT(again->producer_epoch.value, epoch);
  EXPECT_EQ(EndTxn("end-wrong", pid, epoch, false), ErrorCode::kProducerFenced);
  ExpectUnharmed(64 * 1024);
}

}  // namespace
}  // namespace fjord::hostile
