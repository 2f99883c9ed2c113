// Admin requests whose counts size what the broker would allocate: partitions and replica
// assignments of CreateTopics and CreatePartitions, checked before anything is allocated.

#include <limits>

#include "fjord/protocol/messages/create_partitions_request.h"
#include "fjord/protocol/messages/create_partitions_response.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

class AdminCountsTest : public HostileTest {
 protected:
  static void SetUpTestSuite() { StartBroker({"max.broker.partitions=2000"}); }

  protocol::CreateTopicsResponse::CreatableTopicResult Create(
      protocol::CreateTopicsRequest::CreatableTopic t, bool validate_only = false) {
    protocol::CreateTopicsRequest req;
    req.validate_only = validate_only;
    req.timeout_ms = 10000;
    req.topics.push_back(std::move(t));
    auto resp = client().Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() && !resp->topics.empty()
               ? resp->topics[0]
               : protocol::CreateTopicsResponse::CreatableTopicResult{};
  }
  static protocol::CreateTopicsRequest::CreatableTopic Topic(const std::string& name,
                                                             int32_t partitions, int16_t rf = 1) {
    protocol::CreateTopicsRequest::CreatableTopic t;
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = rf;
    return t;
  }
  protocol::CreatePartitionsResponse::CreatePartitionsTopicResult Grow(
      protocol::CreatePartitionsRequest::CreatePartitionsTopic t, bool validate_only = false) {
    protocol::CreatePartitionsRequest req;
    req.validate_only = validate_only;
    req.timeout_ms = 10000;
    req.topics.push_back(std::move(t));
    auto resp =
        client().Call<protocol::CreatePartitionsResponse>(client::Target::Controller(), req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() && !resp->results.empty()
               ? resp->results[0]
               : protocol::CreatePartitionsResponse::CreatePartitionsTopicResult{};
  }
};

TEST_F(AdminCountsTest, CreateTopicsWithTwoBillionPartitionsIsPolicyViolation) {
  for (bool validate_only : {true, false}) {
    auto r = Create(Topic("huge", kMax), validate_only);
    EXPECT_EQ(Err(r.error_code), ErrorCode::kPolicyViolation);
    ASSERT_TRUE(r.error_message.has_value());
    EXPECT_NE(r.error_message->find("Excessively large number of partitions"), std::string::npos);
  }
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, ManyTopicsThatTogetherPassTheLimitAreAllRefused) {
  protocol::CreateTopicsRequest req;
  req.timeout_ms = 10000;
  for (int i = 0; i < 4; ++i) req.topics.push_back(Topic("sum-" + std::to_string(i), 3000));
  auto resp = client().Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->topics.size(), 4u);
  for (const auto& t : resp->topics) EXPECT_EQ(Err(t.error_code), ErrorCode::kPolicyViolation);
  // Summed in 64 bits: topics near INT32_MAX each cannot wrap the total to a small number.
  req.topics.clear();
  req.topics.push_back(Topic("wrap-a", kMax));
  req.topics.push_back(Topic("wrap-b", kMax));
  req.topics.push_back(Topic("wrap-c", 2));
  resp = client().Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  for (const auto& t : resp->topics) EXPECT_EQ(Err(t.error_code), ErrorCode::kPolicyViolation);
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, ManualAssignmentOfTwentyThousandPartitionsIsPolicyViolation) {
  auto t = Topic("assigned", -1, -1);
  for (int p = 0; p < 20000; ++p) {
    protocol::CreateTopicsRequest::CreatableReplicaAssignment a;
    a.partition_index = PartitionId(p);
    a.broker_ids = {NodeId(1)};
    t.assignments.push_back(a);
  }
  EXPECT_EQ(Err(Create(t).error_code), ErrorCode::kPolicyViolation);
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, ReplicaListOfAHundredThousandEntriesIsInvalidReplicaAssignment) {
  auto t = Topic("long-replicas", -1, -1);
  protocol::CreateTopicsRequest::CreatableReplicaAssignment a;
  a.partition_index = PartitionId(0);
  a.broker_ids.assign(100000, NodeId(1));
  t.assignments.push_back(a);
  EXPECT_EQ(Err(Create(t).error_code), ErrorCode::kInvalidReplicaAssignment);
  a.broker_ids.assign(1, NodeId(-7));
  t.assignments = {a};
  EXPECT_EQ(Err(Create(t).error_code), ErrorCode::kInvalidReplicaAssignment);
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, NonPositiveCountsAndFactorsGetKafkasErrors) {
  EXPECT_EQ(Err(Create(Topic("zero", 0)).error_code), ErrorCode::kInvalidPartitions);
  EXPECT_EQ(Err(Create(Topic("neg", -5)).error_code), ErrorCode::kInvalidPartitions);
  EXPECT_EQ(Err(Create(Topic("min", std::numeric_limits<int32_t>::min())).error_code),
            ErrorCode::kInvalidPartitions);
  EXPECT_EQ(Err(Create(Topic("rf0", 1, 0)).error_code), ErrorCode::kInvalidReplicationFactor);
  EXPECT_EQ(Err(Create(Topic("rfneg", 1, -3)).error_code), ErrorCode::kInvalidReplicationFactor);
  EXPECT_EQ(Err(Create(Topic("rfbig", 1, 32767)).error_code), ErrorCode::kInvalidReplicationFactor);
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, CreatePartitionsToTwoBillionIsPolicyViolation) {
  CreateTopic("grow", 1);
  protocol::CreatePartitionsRequest::CreatePartitionsTopic t;
  t.name = "grow";
  t.count = kMax;
  t.assignments = std::nullopt;
  for (bool validate_only : {true, false}) {
    EXPECT_EQ(Err(Grow(t, validate_only).error_code), ErrorCode::kPolicyViolation);
  }
  t.count = 3;
  EXPECT_EQ(Err(Grow(t).error_code), ErrorCode::kNone);
  ExpectUnharmed(64 * 1024);
}

TEST_F(AdminCountsTest, PartitionsPastMaxBrokerPartitionsArePolicyViolation) {
  // This suite's broker hosts at most 2000 partition replicas.
  auto r = Create(Topic("too-many-here", 2500));
  EXPECT_EQ(Err(r.error_code), ErrorCode::kPolicyViolation);
  ASSERT_TRUE(r.error_message.has_value());
  EXPECT_NE(r.error_message->find("max.broker.partitions"), std::string::npos);
  EXPECT_EQ(Err(Create(Topic("fits-here", 100)).error_code), ErrorCode::kNone);
  ExpectUnharmed(64 * 1024);
}

}  // namespace
}  // namespace fjord::hostile
