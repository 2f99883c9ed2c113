// Produce and Fetch shaped to do harm: appends to the coordinators' internal topics, and
// one partition named many times in one request.

#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/fetch_request.h"
#include "fjord/protocol/messages/fetch_response.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

class RecordsTest : public HostileTest {
 protected:
  // A simple (member-less) commit of offset 7 to `topic`-0 for `group`.
  ErrorCode Commit(const std::string& group, const std::string& topic) {
    const protocol::OffsetCommitRequest req = CommitRequestOf(group, topic, 7);
    auto resp = client().Call<protocol::OffsetCommitResponse>(client::Target::Group(group), req);
    if (!resp.ok() || resp->topics.empty() || resp->topics[0].partitions.empty()) {
      return ErrorCode::kUnknownServerError;
    }
    return Err(resp->topics[0].partitions[0].error_code);
  }
};

TEST_F(RecordsTest, ProduceToInternalTopicsIsInvalidTopicAndCoordinatorsKeepWorking) {
  CreateTopic("plain", 1);
  ASSERT_EQ(Commit("g-internal", "plain"), ErrorCode::kNone);  // creates __consumer_offsets
  const std::vector<uint8_t> batch = SmallBatch();
  for (int32_t p : {0, 1, 49}) {
    auto r = Produce("__consumer_offsets", p, batch);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidTopicException) << "partition " << p;
    EXPECT_EQ(r.base_offset, Offset(-1));
  }
  // The transaction coordinator's topic exists once a transactional id is looked up.
  protocol::FindCoordinatorRequest fc;
  fc.key_type = 1;
  fc.key = "txn-internal";
  fc.coordinator_keys = {"txn-internal"};
  for (int i = 0; i < 50; ++i) {
    auto resp = client().Call<protocol::FindCoordinatorResponse>(client::Target::Any(), fc);
    ASSERT_TRUE(resp.ok()) << resp.status();
    if (!resp->coordinators.empty() && resp->coordinators[0].error_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Err(Produce("__transaction_state", 0, batch).error_code),
            ErrorCode::kInvalidTopicException);
  EXPECT_EQ(Commit("g-internal", "plain"), ErrorCode::kNone);
  ExpectUnharmed();
}

// One partition named 20,000 times: produced once (Kafka keeps one entry per partition,
// the data named last), answered once.
TEST_F(RecordsTest, ProducedPartitionNamedManyTimesIsAppendedOnce) {
  CreateTopic("dup-produce", 2);
  const std::vector<uint8_t> first = SmallBatch(10);
  const std::vector<uint8_t> last = SmallBatch(20);
  protocol::ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 10000;
  protocol::ProduceRequest::TopicProduceData td;
  td.name = "dup-produce";
  for (int i = 0; i < 20000; ++i) {
    protocol::ProduceRequest::PartitionProduceData pd;
    pd.index = PartitionId(i % 2 == 0 ? 0 : 1);
    pd.records = protocol::RecordsView::Of(i < 19998 ? first : last);
    td.partition_data.push_back(pd);
  }
  req.topic_data.push_back(td);
  req.topic_data.push_back(td);  // the topic named twice, too
  auto resp = client().Call<protocol::ProduceResponse>(client::Target::Any(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->responses.size(), 1u);
  ASSERT_EQ(resp->responses[0].partition_responses.size(), 2u);
  for (const auto& pr : resp->responses[0].partition_responses) {
    EXPECT_EQ(Err(pr.error_code), ErrorCode::kNone);
    EXPECT_EQ(pr.base_offset, Offset(0));
  }
  // The next append of each partition lands at offset 1: one batch was written.
  EXPECT_EQ(Produce("dup-produce", 0, first).base_offset, Offset(1));
  EXPECT_EQ(Produce("dup-produce", 1, first).base_offset, Offset(1));
  ExpectUnharmed();
}

// A 1 MB partition fetched 50,000 times in one request: one entry, about 1 MB back.
TEST_F(RecordsTest, FetchedPartitionNamedManyTimesIsReadOnce) {
  CreateTopic("dup-fetch", 1);
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(Err(Produce("dup-fetch", 0, SmallBatch(64 * 1024)).error_code), ErrorCode::kNone);
  }
  protocol::FetchRequest req;
  req.max_wait_ms = 0;
  req.max_bytes = 1 << 30;
  protocol::FetchRequest::FetchTopic ft;
  ft.topic = "dup-fetch";
  for (int i = 0; i < 50000; ++i) {
    protocol::FetchRequest::FetchPartition fp;
    fp.partition = PartitionId(0);
    fp.fetch_offset = Offset(0);
    fp.partition_max_bytes = 4 << 20;
    ft.partitions.push_back(fp);
  }
  req.topics.push_back(ft);
  // v12: topics by name.
  auto raw = client().CallRawSync(client::Target::Leader("dup-fetch", 0),
                                  client::Client::RawCallOf(req, 12, 12));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_LT(raw->body.size(), 2u << 20);
  protocol::FetchResponse resp;
  ASSERT_TRUE(protocol::DecodeMessage(raw->body, raw->version, &resp).ok());
  ASSERT_EQ(resp.responses.size(), 1u);
  ASSERT_EQ(resp.responses[0].partitions.size(), 1u);
  EXPECT_GT(resp.responses[0].partitions[0].records.size(), 1u << 20);
  ExpectUnharmed();
}

// 1 GiB of records in a 1 MB gzip batch, to a topic whose max.message.bytes lets the
// batch in: the broker validates it as a stream (its memory grows by far less than the
// inflated size) and refuses it once it inflates past the limit.
TEST_F(RecordsTest, DecompressionBombIsValidatedAsAStreamAndRefused) {
  protocol::CreateTopicsRequest req;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = "bomb";
  t.num_partitions = 1;
  t.replication_factor = 1;
  protocol::CreateTopicsRequest::CreatableTopicConfig c;
  c.name = "max.message.bytes";
  c.value = std::to_string(256 << 20);
  t.configs.push_back(c);
  req.topics.push_back(t);
  auto created = client().Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(Err(created->topics[0].error_code), ErrorCode::kNone);

  const std::vector<uint8_t> bomb = GzipBomb(1024, 1 << 20);
  ASSERT_LT(bomb.size(), 4u << 20);
  auto r = Produce("bomb", 0, bomb);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kMessageTooLarge);
  // A smaller one within the limit is taken, records and all.
  const std::vector<uint8_t> fine = GzipBomb(64, 1 << 20);
  EXPECT_EQ(Err(Produce("bomb", 0, fine).error_code), ErrorCode::kNone);
  // Validation runs on a worker, not the partition's loop (loop_stall_test.cc holds the
  // probe's latency to the usual bound with one loop for everything).
  ExpectUnharmed(96 * 1024);
}

}  // namespace
}  // namespace fjord::hostile
