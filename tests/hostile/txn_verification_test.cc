// Transactional produce checked with the transaction coordinator (KIP-890 part 1): a
// transactional batch forged with a made-up producer id, or sent for a partition its
// transaction never added, is refused and written nowhere, so read_committed consumers are
// not held at it; a proper transaction still goes through.

#include <optional>

#include "fjord/protocol/messages/add_offsets_to_txn_request.h"
#include "fjord/protocol/messages/add_offsets_to_txn_response.h"
#include "fjord/protocol/messages/add_partitions_to_txn_request.h"
#include "fjord/protocol/messages/add_partitions_to_txn_response.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"
#include "fjord/protocol/messages/end_txn_request.h"
#include "fjord/protocol/messages/end_txn_response.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/init_producer_id_request.h"
#include "fjord/protocol/messages/init_producer_id_response.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/txn_offset_commit_request.h"
#include "fjord/protocol/messages/txn_offset_commit_response.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

constexpr int16_t kProduceV10 = 10;  // before TRANSACTION_ABORTABLE
constexpr int16_t kProduceV11 = 11;  // KIP-890 clients

std::vector<uint8_t> TxnBatch(ProducerId pid, ProducerEpoch epoch, int32_t seq,
                              bool transactional = true) {
  protocol::RecordBatchBuilder b;
  b.SetProducer(pid, epoch, seq).SetTransactional(transactional);
  b.Add(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count(),
        std::nullopt, protocol::AsBytes("txn"));
  return *std::move(b).Build();
}

struct Producer {
  ProducerId id{-1};
  ProducerEpoch epoch{-1};
};

class TxnVerificationTest : public HostileTest {
 protected:
  // Looks the transactional id's coordinator up (which creates __transaction_state).
  void FindTxnCoordinator(const std::string& txn_id) {
    protocol::FindCoordinatorRequest fc;
    fc.key_type = 1;
    fc.key = txn_id;
    fc.coordinator_keys = {txn_id};
    for (int i = 0; i < 100; ++i) {
      auto resp = client().Call<protocol::FindCoordinatorResponse>(client::Target::Any(), fc);
      ASSERT_TRUE(resp.ok()) << resp.status();
      if (!resp->coordinators.empty() && resp->coordinators[0].error_code == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "no transaction coordinator for " << txn_id;
  }

  // InitProducerId for `txn_id`, retried while the coordinator loads or aborts.
  Producer Init(const std::string& txn_id) {
    FindTxnCoordinator(txn_id);
    protocol::InitProducerIdRequest req;
    req.transactional_id = txn_id;
    req.transaction_timeout_ms = 60000;
    for (int i = 0; i < 100; ++i) {
      auto resp = client().Call<protocol::InitProducerIdResponse>(client::Target::Txn(txn_id), req);
      EXPECT_TRUE(resp.ok()) << resp.status();
      if (!resp.ok()) break;
      const ErrorCode e = Err(resp->error_code);
      if (e == ErrorCode::kNone) return {resp->producer_id, resp->producer_epoch};
      if (e != ErrorCode::kCoordinatorLoadInProgress && e != ErrorCode::kConcurrentTransactions &&
          e != ErrorCode::kNotCoordinator) {
        ADD_FAILURE() << "InitProducerId: " << protocol::ErrorName(e);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
  }

  ErrorCode AddPartition(const std::string& txn_id, Producer p, const std::string& topic,
                         int32_t partition) {
    protocol::AddPartitionsToTxnRequest req;
    req.v3_and_below_transactional_id = txn_id;
    req.v3_and_below_producer_id = p.id;
    req.v3_and_below_producer_epoch = p.epoch;
    protocol::AddPartitionsToTxnRequest::AddPartitionsToTxnTopic t;
    t.name = topic;
    t.partitions = {PartitionId(partition)};
    req.v3_and_below_topics.push_back(t);
    auto resp = client().Call<protocol::AddPartitionsToTxnResponse>(client::Target::Txn(txn_id),
                                                                    req, nullptr, 3);
    if (!resp.ok() || resp->results_by_topic_v3_and_below.empty() ||
        resp->results_by_topic_v3_and_below[0].results_by_partition.empty()) {
      ADD_FAILURE() << "AddPartitionsToTxn failed";
      return ErrorCode::kUnknownServerError;
    }
    return Err(resp->results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code);
  }

  ErrorCode EndTxn(const std::string& txn_id, Producer p, bool commit) {
    protocol::EndTxnRequest req;
    req.transactional_id = txn_id;
    req.producer_id = p.id;
    req.producer_epoch = p.epoch;
    req.committed = commit;
    auto resp =
        client().Call<protocol::EndTxnResponse>(client::Target::Txn(txn_id), req, nullptr, 4);
    if (!resp.ok()) {
      ADD_FAILURE() << resp.status();
      return ErrorCode::kUnknownServerError;
    }
    return Err(resp->error_code);
  }

  // Produce of `batch` to one partition with the request's transactional id, at most at
  // `version`.
  protocol::ProduceResponse::PartitionProduceResponse ProduceTxn(const std::string& topic,
                                                                 int32_t partition,
                                                                 std::optional<std::string> txn_id,
                                                                 std::span<const uint8_t> batch,
                                                                 int16_t version = kProduceV11) {
    protocol::ProduceRequest req = ProduceRequestOf(topic, partition, batch);
    req.transactional_id = std::move(txn_id);
    return FirstPartitionOf(client().Call<protocol::ProduceResponse>(
        client::Target::Leader(topic, partition), req, nullptr, version));
  }

  // ListOffsets LATEST: the high watermark (read_uncommitted) or the last stable offset
  // (read_committed).
  int64_t Latest(const std::string& topic, int32_t partition, bool read_committed) {
    protocol::ListOffsetsRequest req;
    req.replica_id = NodeId(-1);
    req.isolation_level = read_committed ? 1 : 0;
    protocol::ListOffsetsRequest::ListOffsetsTopic t;
    t.name = topic;
    protocol::ListOffsetsRequest::ListOffsetsPartition p;
    p.partition_index = PartitionId(partition);
    p.timestamp = -1;
    t.partitions.push_back(p);
    req.topics.push_back(t);
    auto resp =
        client().Call<protocol::ListOffsetsResponse>(client::Target::Leader(topic, partition), req);
    if (!resp.ok() || resp->topics.empty() || resp->topics[0].partitions.empty() ||
        resp->topics[0].partitions[0].error_code != 0) {
      ADD_FAILURE() << "ListOffsets failed";
      return -1;
    }
    return resp->topics[0].partitions[0].offset.value;
  }

  // TxnOffsetCommit of offset 5 of `topic`-0 for `group`, at most at `version`.
  ErrorCode TxnCommitOffset(const std::string& txn_id, Producer p, const std::string& group,
                            const std::string& topic, int16_t version = 4) {
    protocol::TxnOffsetCommitRequest req;
    req.transactional_id = txn_id;
    req.group_id = group;
    req.producer_id = p.id;
    req.producer_epoch = p.epoch;
    protocol::TxnOffsetCommitRequest::TxnOffsetCommitRequestTopic t;
    t.name = topic;
    protocol::TxnOffsetCommitRequest::TxnOffsetCommitRequestPartition part;
    part.partition_index = PartitionId(0);
    part.committed_offset = Offset(5);
    t.partitions.push_back(part);
    req.topics.push_back(t);
    auto resp = client().Call<protocol::TxnOffsetCommitResponse>(client::Target::Group(group), req,
                                                                 nullptr, version);
    if (!resp.ok() || resp->topics.empty() || resp->topics[0].partitions.empty()) {
      ADD_FAILURE() << "TxnOffsetCommit failed";
      return ErrorCode::kUnknownServerError;
    }
    return Err(resp->topics[0].partitions[0].error_code);
  }

  ErrorCode AddOffsets(const std::string& txn_id, Producer p, const std::string& group) {
    protocol::AddOffsetsToTxnRequest req;
    req.transactional_id = txn_id;
    req.producer_id = p.id;
    req.producer_epoch = p.epoch;
    req.group_id = group;
    auto resp = client().Call<protocol::AddOffsetsToTxnResponse>(client::Target::Txn(txn_id), req);
    if (!resp.ok()) {
      ADD_FAILURE() << resp.status();
      return ErrorCode::kUnknownServerError;
    }
    return Err(resp->error_code);
  }

  // Both isolation levels see `end`: nothing transactional holds read_committed back.
  void ExpectStableAt(const std::string& topic, int64_t end) {
    EXPECT_EQ(Latest(topic, 0, false), end) << "high watermark";
    EXPECT_EQ(Latest(topic, 0, true), end) << "last stable offset";
  }
};

TEST_F(TxnVerificationTest, ForgedProducerIdIsInvalidMappingAndNothingIsWritten) {
  CreateTopic("txv-forged", 1);
  Producer real = Init("txv-real");
  ASSERT_GE(real.id.value, 0);
  ASSERT_EQ(Err(Produce("txv-forged", 0, SmallBatch()).error_code), ErrorCode::kNone);
  const ProducerId made_up(987654321);
  for (int16_t version : {kProduceV10, kProduceV11}) {
    // A transactional id the coordinator never saw.
    auto r =
        ProduceTxn("txv-forged", 0, "txv-nobody", TxnBatch(made_up, ProducerEpoch(0), 0), version);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidProducerIdMapping) << "v" << version;
    EXPECT_EQ(r.base_offset, Offset(-1));
    // A known transactional id with someone else's producer id.
    r = ProduceTxn("txv-forged", 0, "txv-real", TxnBatch(made_up, ProducerEpoch(0), 0), version);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidProducerIdMapping) << "v" << version;
  }
  // Transactional records without a transactional id: Kafka refuses the whole request.
  auto r = ProduceTxn("txv-forged", 0, std::nullopt, TxnBatch(made_up, ProducerEpoch(0), 0));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kTransactionalIdAuthorizationFailed);
  // An empty one is no transactional id either.
  r = ProduceTxn("txv-forged", 0, "", TxnBatch(made_up, ProducerEpoch(0), 0));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidRequest);
  ExpectStableAt("txv-forged", 1);
  // The plain records after them are read by read_committed consumers at once.
  ASSERT_EQ(Err(Produce("txv-forged", 0, SmallBatch()).error_code), ErrorCode::kNone);
  ExpectStableAt("txv-forged", 2);
  ExpectUnharmed();
}

TEST_F(TxnVerificationTest, PartitionNotAddedIsInvalidTxnStateOrTransactionAbortable) {
  CreateTopic("txv-unadded", 1);
  Producer p = Init("txv-unadded");
  ASSERT_GE(p.id.value, 0);
  auto r = ProduceTxn("txv-unadded", 0, "txv-unadded", TxnBatch(p.id, p.epoch, 0), kProduceV10);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidTxnState);
  EXPECT_EQ(r.error_message.value_or(""), "Partition was not added to the transaction");
  r = ProduceTxn("txv-unadded", 0, "txv-unadded", TxnBatch(p.id, p.epoch, 0), kProduceV11);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kTransactionAbortable);
  // Another partition of the transaction does not admit this one.
  CreateTopic("txv-unadded-other", 1);
  ASSERT_EQ(AddPartition("txv-unadded", p, "txv-unadded-other", 0), ErrorCode::kNone);
  r = ProduceTxn("txv-unadded", 0, "txv-unadded", TxnBatch(p.id, p.epoch, 0), kProduceV11);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kTransactionAbortable);
  ExpectStableAt("txv-unadded", 0);
  ExpectUnharmed();
}

TEST_F(TxnVerificationTest, WrongEpochIsInvalidProducerEpoch) {
  CreateTopic("txv-epoch", 1);
  Producer old = Init("txv-epoch");
  Producer p = Init("txv-epoch");  // the same id again: the epoch is bumped
  ASSERT_EQ(p.id, old.id);
  ASSERT_EQ(p.epoch.value, old.epoch.value + 1);
  ASSERT_EQ(AddPartition("txv-epoch", p, "txv-epoch", 0), ErrorCode::kNone);
  for (int16_t version : {kProduceV10, kProduceV11}) {
    // The coordinator's PRODUCER_FENCED reaches producers as INVALID_PRODUCER_EPOCH.
    auto r = ProduceTxn("txv-epoch", 0, "txv-epoch", TxnBatch(p.id, old.epoch, 0), version);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidProducerEpoch) << "v" << version;
    r = ProduceTxn("txv-epoch", 0, "txv-epoch",
                   TxnBatch(p.id, ProducerEpoch(static_cast<int16_t>(p.epoch.value + 1)), 0),
                   version);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidProducerEpoch) << "v" << version;
  }
  ExpectStableAt("txv-epoch", 0);
  // The current epoch is taken.
  EXPECT_EQ(Err(ProduceTxn("txv-epoch", 0, "txv-epoch", TxnBatch(p.id, p.epoch, 0)).error_code),
            ErrorCode::kNone);
  EXPECT_EQ(EndTxn("txv-epoch", p, false), ErrorCode::kNone);
  ExpectUnharmed();
}

TEST_F(TxnVerificationTest, ProperTransactionsCommitAndAbortAsBefore) {
  CreateTopic("txv-proper", 1);
  Producer p = Init("txv-proper");
  ASSERT_GE(p.id.value, 0);
  ASSERT_EQ(AddPartition("txv-proper", p, "txv-proper", 0), ErrorCode::kNone);
  for (int32_t seq = 0; seq < 3; ++seq) {  // verified once, then part of the open txn
    auto r = ProduceTxn("txv-proper", 0, "txv-proper", TxnBatch(p.id, p.epoch, seq));
    ASSERT_EQ(Err(r.error_code), ErrorCode::kNone) << "seq " << seq;
    EXPECT_EQ(r.base_offset, Offset(seq));
  }
  // A retried batch is answered with its offsets again.
  auto retried = ProduceTxn("txv-proper", 0, "txv-proper", TxnBatch(p.id, p.epoch, 1));
  EXPECT_EQ(Err(retried.error_code), ErrorCode::kNone);
  EXPECT_EQ(retried.base_offset, Offset(1));
  EXPECT_EQ(Latest("txv-proper", 0, true), 0);  // open: read_committed stops at its start
  ASSERT_EQ(EndTxn("txv-proper", p, true), ErrorCode::kNone);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Latest("txv-proper", 0, true) != 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ExpectStableAt("txv-proper", 4);  // three batches and the marker

  // The transaction is over: the same epoch cannot write without adding the partition.
  auto r = ProduceTxn("txv-proper", 0, "txv-proper", TxnBatch(p.id, p.epoch, 3));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kTransactionAbortable);
  // The next transaction adds it and writes; its abort releases the partition too.
  ASSERT_EQ(AddPartition("txv-proper", p, "txv-proper", 0), ErrorCode::kNone);
  r = ProduceTxn("txv-proper", 0, "txv-proper", TxnBatch(p.id, p.epoch, 3));
  ASSERT_EQ(Err(r.error_code), ErrorCode::kNone);
  EXPECT_EQ(r.base_offset, Offset(4));
  EXPECT_EQ(Latest("txv-proper", 0, true), 4);
  ASSERT_EQ(EndTxn("txv-proper", p, false), ErrorCode::kNone);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Latest("txv-proper", 0, true) != 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ExpectStableAt("txv-proper", 6);
  ExpectUnharmed();
}

TEST_F(TxnVerificationTest, TwoProducersInOneRequestAreInvalidMapping) {
  CreateTopic("txv-two", 2);
  Producer p = Init("txv-two");
  ASSERT_EQ(AddPartition("txv-two", p, "txv-two", 0), ErrorCode::kNone);
  ASSERT_EQ(AddPartition("txv-two", p, "txv-two", 1), ErrorCode::kNone);
  const std::vector<uint8_t> mine = TxnBatch(p.id, p.epoch, 0);
  const std::vector<uint8_t> other = TxnBatch(ProducerId(p.id.value + 1000), p.epoch, 0);
  protocol::ProduceRequest req = ProduceRequestOf("txv-two", 0, mine);
  req.transactional_id = "txv-two";
  protocol::ProduceRequest::PartitionProduceData pd;
  pd.index = PartitionId(1);
  pd.records = protocol::RecordsView::Of(other);
  req.topic_data[0].partition_data.push_back(pd);
  auto resp = client().Call<protocol::ProduceResponse>(client::Target::Leader("txv-two", 0), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->responses.size(), 1u);
  ASSERT_EQ(resp->responses[0].partition_responses.size(), 2u);
  for (const auto& pr : resp->responses[0].partition_responses) {
    EXPECT_EQ(Err(pr.error_code), ErrorCode::kInvalidProducerIdMapping);
  }
  ExpectStableAt("txv-two", 0);
  EXPECT_EQ(EndTxn("txv-two", p, false), ErrorCode::kNone);
  ExpectUnharmed();
}

// The offsets of a transaction are a transactional batch in __consumer_offsets: the
// group's partition must have been added (AddOffsetsToTxn) before they are written.
TEST_F(TxnVerificationTest, TxnOffsetCommitNeedsTheOffsetsPartitionInTheTransaction) {
  CreateTopic("txv-offsets", 1);
  auto plain = client().Call<protocol::OffsetCommitResponse>(
      client::Target::Group("txv-plain"), CommitRequestOf("txv-plain", "txv-offsets", 1));
  ASSERT_TRUE(plain.ok()) << plain.status();  // creates __consumer_offsets
  Producer p = Init("txv-offsets");
  ASSERT_EQ(AddPartition("txv-offsets", p, "txv-offsets", 0), ErrorCode::kNone);
  EXPECT_EQ(TxnCommitOffset("txv-offsets", p, "txv-group", "txv-offsets", 4),
            ErrorCode::kTransactionAbortable);
  EXPECT_EQ(TxnCommitOffset("txv-offsets", p, "txv-group", "txv-offsets", 3),
            ErrorCode::kInvalidTxnState);
  EXPECT_EQ(TxnCommitOffset("txv-offsets", {ProducerId(p.id.value + 999), p.epoch}, "txv-group",
                            "txv-offsets"),
            ErrorCode::kInvalidProducerIdMapping);
  EXPECT_EQ(
      TxnCommitOffset("txv-offsets", {p.id, ProducerEpoch(static_cast<int16_t>(p.epoch.value + 1))},
                      "txv-group", "txv-offsets"),
      ErrorCode::kInvalidProducerEpoch);
  ASSERT_EQ(AddOffsets("txv-offsets", p, "txv-group"), ErrorCode::kNone);
  EXPECT_EQ(TxnCommitOffset("txv-offsets", p, "txv-group", "txv-offsets"), ErrorCode::kNone);
  EXPECT_EQ(TxnCommitOffset("txv-offsets", p, "txv-group", "txv-offsets"), ErrorCode::kNone);
  EXPECT_EQ(EndTxn("txv-offsets", p, true), ErrorCode::kNone);
  ExpectUnharmed();
}

// Transaction version 2 (KIP-890 part 2) is not served, so nothing invites a client to use
// it: EndTxn stops at v4, Produce at v11, TxnOffsetCommit at v4, and no transaction.version
// feature is finalized (clients then add partitions with AddPartitionsToTxn themselves).
TEST_F(TxnVerificationTest, TransactionVersionTwoIsNotAdvertised) {
  protocol::ApiVersionsRequest req;
  req.client_software_name = "hostile";
  req.client_software_version = "1";
  auto resp = client().Call<protocol::ApiVersionsResponse>(client::Target::Any(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  auto max_of = [&](protocol::ApiKey key) {
    for (const auto& v : resp->api_keys) {
      if (v.api_key == static_cast<int16_t>(key)) return v.max_version;
    }
    return int16_t{-1};
  };
  EXPECT_EQ(max_of(protocol::ApiKey::kEndTxn), 4);
  EXPECT_EQ(max_of(protocol::ApiKey::kProduce), 11);
  EXPECT_EQ(max_of(protocol::ApiKey::kTxnOffsetCommit), 4);
  for (const auto& f : resp->finalized_features) EXPECT_NE(f.name, "transaction.version");
  for (const auto& f : resp->supported_features) EXPECT_NE(f.name, "transaction.version");
}

// Before any transactional id was looked up there is no __transaction_state, so no
// coordinator to ask: the batch is refused with Kafka's retriable NOT_ENOUGH_REPLICAS.
class TxnVerificationNoCoordinatorTest : public TxnVerificationTest {};

TEST_F(TxnVerificationNoCoordinatorTest, ForgedBatchWithoutCoordinatorIsNotEnoughReplicas) {
  CreateTopic("txv-nocoord", 1);
  auto r = ProduceTxn("txv-nocoord", 0, "txv-x", TxnBatch(ProducerId(42), ProducerEpoch(0), 0));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kNotEnoughReplicas);
  EXPECT_NE(r.error_message.value_or("").find("COORDINATOR_NOT_AVAILABLE"), std::string::npos)
      << r.error_message.value_or("");
  ExpectStableAt("txv-nocoord", 0);
  ExpectUnharmed();
}

// transaction.partition.verification.enable=false: Kafka's behaviour before KIP-890, the
// batch is written unchecked and holds read_committed consumers until it is aborted.
class TxnVerificationOffTest : public TxnVerificationTest {
 protected:
  static void SetUpTestSuite() { StartBroker({"transaction.partition.verification.enable=false"}); }
};

TEST_F(TxnVerificationOffTest, ForgedBatchIsWrittenWhenVerificationIsOff) {
  CreateTopic("txv-off", 1);
  auto r = ProduceTxn("txv-off", 0, "txv-off", TxnBatch(ProducerId(4242), ProducerEpoch(0), 0));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kNone);
  EXPECT_EQ(Latest("txv-off", 0, false), 1);
  EXPECT_EQ(Latest("txv-off", 0, true), 0);
  // Without a transactional id it is refused all the same.
  r = ProduceTxn("txv-off", 0, std::nullopt, TxnBatch(ProducerId(4243), ProducerEpoch(0), 0));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kTransactionalIdAuthorizationFailed);
  ExpectUnharmed();
}

}  // namespace
}  // namespace fjord::hostile
