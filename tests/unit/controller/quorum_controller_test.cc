#include "fjord/controller/quorum_controller.h"

#include <gtest/gtest.h>

#include <future>

#include "fake_raft.h"
#include "fjord/config/broker_config.h"

namespace fjord::controller {
namespace {

using protocol::Code;
using protocol::ErrorCode;

config::BrokerConfig Config(std::vector<std::string> overrides = {}) {
  absl::StatusOr<config::BrokerConfig> c = config::BrokerConfig::Load(std::nullopt, overrides);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::vector<metadata::BrokerEndpoint> Endpoints() {
  return {metadata::BrokerEndpoint{"PLAINTEXT", "127.0.0.1", 9092, 0}};
}

// Runs an asynchronous controller command and waits for its answer.
template <typename Resp, typename Call>
Resp Await(Call call) {
  std::promise<Resp> p;
  std::future<Resp> f = p.get_future();
  call([&p](Resp r) { p.set_value(std::move(r)); });
  return f.get();
}

class ControllerTest : public ::testing::Test {
 protected:
  void StartController(std::vector<std::string> overrides = {}) {
    config_ = Config(std::move(overrides));
    controller_ = std::make_unique<QuorumController>(
        &raft_,
        [this](std::shared_ptr<const metadata::MetadataImage> image) {
          published_.push_back(image);
        },
        QuorumController::Options{NodeId(1), &config_});
    ASSERT_TRUE(controller_->Start(Endpoints()).ok());
  }

  protocol::CreateTopicsResponse Create(
      std::vector<protocol::CreateTopicsRequest::CreatableTopic> topics, bool validate_only = false,
      int16_t version = 7) {
    protocol::CreateTopicsRequest req;
    req.topics = std::move(topics);
    req.validate_only = validate_only;
    return Await<protocol::CreateTopicsResponse>(
        [&](auto done) { controller_->CreateTopics(req, version, done); });
  }

  static protocol::CreateTopicsRequest::CreatableTopic Topic(std::string name, int32_t partitions,
                                                             int16_t rf = 1) {
    protocol::CreateTopicsRequest::CreatableTopic t;
    t.name = std::move(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    return t;
  }

  protocol::IncrementalAlterConfigsResponse Incremental(const std::string& topic,
                                                        const std::string& name, int8_t op,
                                                        std::optional<std::string> value) {
    protocol::IncrementalAlterConfigsRequest req;
    protocol::IncrementalAlterConfigsRequest::AlterConfigsResource res;
    res.resource_type = metadata::kTopicResource;
    res.resource_name = topic;
    protocol::IncrementalAlterConfigsRequest::AlterableConfig c;
    c.name = name;
    c.config_operation = op;
    c.value = std::move(value);
    res.configs.push_back(c);
    req.resources.push_back(res);
    return Await<protocol::IncrementalAlterConfigsResponse>(
        [&](auto done) { controller_->IncrementalAlterConfigs(req, 1, done); });
  }

  FakeRaft raft_;
  config::BrokerConfig config_ = config::BrokerConfig::Defaults();
  std::unique_ptr<QuorumController> controller_;
  std::vector<std::shared_ptr<const metadata::MetadataImage>> published_;
};

TEST_F(ControllerTest, FirstStartWritesFeaturesAndRegistersTheNode) {
  StartController();
  auto image = controller_->image();
  EXPECT_EQ(image->FeatureLevel("metadata.version"), kMetadataVersionLevel);
  const metadata::BrokerImage* b = image->Broker(NodeId(1));
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->fenced);
  ASSERT_EQ(b->endpoints.size(), 1u);
  EXPECT_EQ(b->endpoints[0].port, 9092);
  EXPECT_EQ(raft_.batch_count(), 1u);
  EXPECT_EQ(published_.back(), image);
}

TEST_F(ControllerTest, RestartReplaysTheLogAndRegistersWithANewEpoch) {
  StartController();
  ASSERT_EQ(Create({Topic("orders", 3)}).topics[0].error_code, 0);
  const int64_t first_epoch = controller_->image()->Broker(NodeId(1))->epoch;
  controller_->Stop();
  controller_.reset();
  StartController();
  auto image = controller_->image();
  ASSERT_NE(image->TopicByName("orders"), nullptr);
  EXPECT_EQ(image->TopicByName("orders")->partitions.size(), 3u);
  EXPECT_GT(image->Broker(NodeId(1))->epoch, first_epoch);
  EXPECT_EQ(raft_.batch_count(), 3u);  // no second feature-level batch
}

TEST_F(ControllerTest, CreateTopicAssignsIdsLeadersAndDefaults) {
  StartController({"num.partitions=4"});
  auto t = Topic("events", -1, -1);
  auto resp = Create({t});
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_FALSE(resp.topics[0].error_message.has_value());
  EXPECT_EQ(resp.topics[0].num_partitions, 4);
  EXPECT_EQ(resp.topics[0].replication_factor, 1);
  EXPECT_FALSE(resp.topics[0].topic_id.IsZero());
  const metadata::TopicImage* topic = controller_->image()->TopicByName("events");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->id, resp.topics[0].topic_id);
  for (const metadata::PartitionImage& p : topic->partitions) {
    EXPECT_EQ(p.leader, NodeId(1));
    EXPECT_EQ(p.isr, std::vector<NodeId>{NodeId(1)});
    EXPECT_EQ(p.leader_epoch, LeaderEpoch(0));
  }
  ASSERT_TRUE(resp.topics[0].configs.has_value());
  EXPECT_FALSE(resp.topics[0].configs->empty());
}

TEST_F(ControllerTest, CreateTopicErrorsUseKafkasCodes) {
  StartController();
  ASSERT_EQ(Create({Topic("a.b", 1)}).topics[0].error_code, 0);
  struct Case {
    protocol::CreateTopicsRequest::CreatableTopic topic;
    ErrorCode code;
  };
  auto with_config = Topic("cfg", 1);
  protocol::CreateTopicsRequest::CreatableTopicConfig bad;
  bad.name = "retention.ms";
  bad.value = "soon";
  with_config.configs.push_back(bad);
  auto unknown_config = Topic("cfg2", 1);
  bad.name = "no.such.config";
  bad.value = "1";
  unknown_config.configs.push_back(bad);
  std::vector<Case> cases = {
      {Topic("a.b", 1), ErrorCode::kTopicAlreadyExists},
      {Topic("a_b", 1), ErrorCode::kInvalidTopicException},
      {Topic("bad name", 1), ErrorCode::kInvalidTopicException},
      {Topic(std::string(250, 'x'), 1), ErrorCode::kInvalidTopicException},
      {Topic("zero", 0), ErrorCode::kInvalidPartitions},
      {Topic("rf3", 1, 3), ErrorCode::kInvalidReplicationFactor},
      {Topic("rf0", 1, 0), ErrorCode::kInvalidReplicationFactor},
      {with_config, ErrorCode::kInvalidConfig},
      {unknown_config, ErrorCode::kInvalidConfig},
  };
  for (const Case& c : cases) {
    auto resp = Create({c.topic});
    EXPECT_EQ(resp.topics[0].error_code, Code(c.code)) << c.topic.name;
    EXPECT_TRUE(resp.topics[0].error_message.has_value()) << c.topic.name;
    EXPECT_EQ(controller_->image()->TopicByName(c.topic.name) != nullptr,
              c.code == ErrorCode::kTopicAlreadyExists)
        << c.topic.name;
  }
}

TEST_F(ControllerTest, DuplicateNamesInOneRequestAreInvalid) {
  StartController();
  auto resp = Create({Topic("dup", 1), Topic("dup", 1), Topic("ok", 1)});
  EXPECT_EQ(resp.topics[0].error_code, Code(ErrorCode::kInvalidRequest));
  EXPECT_EQ(resp.topics[1].error_code, Code(ErrorCode::kInvalidRequest));
  EXPECT_EQ(resp.topics[2].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicByName("dup"), nullptr);
}

TEST_F(ControllerTest, ManualAssignmentIsChecked) {
  StartController();
  auto t = Topic("manual", -1, -1);
  protocol::CreateTopicsRequest::CreatableReplicaAssignment a;
  a.partition_index = PartitionId(0);
  a.broker_ids = {NodeId(1)};
  t.assignments.push_back(a);
  EXPECT_EQ(Create({t}).topics[0].error_code, 0);
  auto bad = Topic("manual2", -1, -1);
  a.broker_ids = {NodeId(7)};
  bad.assignments.push_back(a);
  EXPECT_EQ(Create({bad}).topics[0].error_code, Code(ErrorCode::kInvalidReplicaAssignment));
  auto both = Topic("manual3", 2, -1);
  a.broker_ids = {NodeId(1)};
  both.assignments.push_back(a);
  EXPECT_EQ(Create({both}).topics[0].error_code, Code(ErrorCode::kInvalidRequest));
}

TEST_F(ControllerTest, ValidateOnlyWritesNothing) {
  StartController();
  const size_t batches = raft_.batch_count();
  auto resp = Create({Topic("dry", 2)}, /*validate_only=*/true);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].num_partitions, 2);
  EXPECT_EQ(raft_.batch_count(), batches);
  EXPECT_EQ(controller_->image()->TopicByName("dry"), nullptr);
}

TEST_F(ControllerTest, DeleteByNameAndByIdThenRecreate) {
  StartController();
  auto created = Create({Topic("t1", 1), Topic("t2", 1)});
  protocol::DeleteTopicsRequest by_name;
  by_name.topic_names = {"t1", "missing"};
  auto r1 = Await<protocol::DeleteTopicsResponse>(
      [&](auto done) { controller_->DeleteTopics(by_name, 5, done); });
  ASSERT_EQ(r1.responses.size(), 2u);
  EXPECT_EQ(r1.responses[0].error_code, 0);
  EXPECT_EQ(r1.responses[1].error_code, Code(ErrorCode::kUnknownTopicOrPartition));
  protocol::DeleteTopicsRequest by_id;
  protocol::DeleteTopicsRequest::DeleteTopicState st;
  st.topic_id = created.topics[1].topic_id;
  by_id.topics.push_back(st);
  protocol::DeleteTopicsRequest::DeleteTopicState unknown;
  unknown.topic_id = created.topics[0].topic_id;  // already gone
  by_id.topics.push_back(unknown);
  auto r2 = Await<protocol::DeleteTopicsResponse>(
      [&](auto done) { controller_->DeleteTopics(by_id, 6, done); });
  EXPECT_EQ(r2.responses[0].error_code, 0);
  EXPECT_EQ(r2.responses[0].name, "t2");
  EXPECT_EQ(r2.responses[1].error_code, Code(ErrorCode::kUnknownTopicId));
  EXPECT_TRUE(controller_->image()->topics().empty());
  auto again = Create({Topic("t1", 2)});
  EXPECT_EQ(again.topics[0].error_code, 0);
  EXPECT_NE(again.topics[0].topic_id, created.topics[0].topic_id);
}

TEST_F(ControllerTest, DeletionCanBeDisabled) {
  StartController({"delete.topic.enable=false"});
  Create({Topic("keep", 1)});
  protocol::DeleteTopicsRequest req;
  req.topic_names = {"keep"};
  auto r = Await<protocol::DeleteTopicsResponse>(
      [&](auto done) { controller_->DeleteTopics(req, 4, done); });
  EXPECT_EQ(r.responses[0].error_code, Code(ErrorCode::kTopicDeletionDisabled));
  EXPECT_NE(controller_->image()->TopicByName("keep"), nullptr);
}

TEST_F(ControllerTest, CreatePartitionsGrowsOnly) {
  StartController();
  Create({Topic("grow", 2)});
  auto run = [&](int32_t count, bool validate_only = false) {
    protocol::CreatePartitionsRequest req;
    protocol::CreatePartitionsRequest::CreatePartitionsTopic t;
    t.name = "grow";
    t.count = count;
    t.assignments.reset();
    req.topics.push_back(t);
    req.validate_only = validate_only;
    return Await<protocol::CreatePartitionsResponse>(
        [&](auto done) { controller_->CreatePartitions(req, 3, done); });
  };
  EXPECT_EQ(run(2).results[0].error_code, Code(ErrorCode::kInvalidPartitions));
  EXPECT_EQ(run(1).results[0].error_code, Code(ErrorCode::kInvalidPartitions));
  EXPECT_EQ(run(5, true).results[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicByName("grow")->partitions.size(), 2u);
  EXPECT_EQ(run(5).results[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicByName("grow")->partitions.size(), 5u);
}

TEST_F(ControllerTest, AlterConfigsReplacesTheOverrideSet) {
  StartController();
  auto t = Topic("conf", 1);
  protocol::CreateTopicsRequest::CreatableTopicConfig c;
  c.name = "retention.ms";
  c.value = "1000";
  t.configs.push_back(c);
  Create({t});
  EXPECT_EQ(controller_->image()->TopicConfigs("conf").at("retention.ms"), "1000");
  protocol::AlterConfigsRequest req;
  protocol::AlterConfigsRequest::AlterConfigsResource res;
  res.resource_type = metadata::kTopicResource;
  res.resource_name = "conf";
  protocol::AlterConfigsRequest::AlterableConfig a;
  a.name = "segment.bytes";
  a.value = "1048576";
  res.configs.push_back(a);
  req.resources.push_back(res);
  auto r = Await<protocol::AlterConfigsResponse>(
      [&](auto done) { controller_->AlterConfigs(req, 2, done); });
  EXPECT_EQ(r.responses[0].error_code, 0);
  const auto& overrides = controller_->image()->TopicConfigs("conf");
  EXPECT_EQ(overrides.count("retention.ms"), 0u);
  EXPECT_EQ(overrides.at("segment.bytes"), "1048576");
  req.resources[0].resource_name = "nope";
  r = Await<protocol::AlterConfigsResponse>(
      [&](auto done) { controller_->AlterConfigs(req, 2, done); });
  EXPECT_EQ(r.responses[0].error_code, Code(ErrorCode::kUnknownTopicOrPartition));
}

TEST_F(ControllerTest, IncrementalOperationsIncludingListAppendAndSubtract) {
  StartController();
  Create({Topic("inc", 1)});
  EXPECT_EQ(Incremental("inc", "retention.ms", 0, "5000").responses[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicConfigs("inc").at("retention.ms"), "5000");
  EXPECT_EQ(Incremental("inc", "cleanup.policy", 2, "compact").responses[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicConfigs("inc").at("cleanup.policy"), "delete,compact");
  EXPECT_EQ(Incremental("inc", "cleanup.policy", 3, "delete").responses[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicConfigs("inc").at("cleanup.policy"), "compact");
  EXPECT_EQ(Incremental("inc", "retention.ms", 1, std::nullopt).responses[0].error_code, 0);
  EXPECT_EQ(controller_->image()->TopicConfigs("inc").count("retention.ms"), 0u);
  EXPECT_EQ(Incremental("inc", "retention.ms", 2, "1").responses[0].error_code,
            Code(ErrorCode::kInvalidConfig));
  EXPECT_EQ(Incremental("inc", "retention.ms", 0, "x").responses[0].error_code,
            Code(ErrorCode::kInvalidConfig));
  EXPECT_EQ(Incremental("inc", "retention.ms", 9, "1").responses[0].error_code,
            Code(ErrorCode::kInvalidRequest));
}

TEST_F(ControllerTest, AutoCreateMakesMissingValidTopics) {
  StartController({"num.partitions=3"});
  Create({Topic("exists", 1)});
  auto r = Await<std::vector<std::pair<std::string, ErrorCode>>>([&](auto done) {
    controller_->AutoCreateTopics({"exists", "fresh", "bad name"}, done);
  });
  std::map<std::string, ErrorCode> codes(r.begin(), r.end());
  EXPECT_EQ(codes["exists"], ErrorCode::kNone);
  EXPECT_EQ(codes["fresh"], ErrorCode::kNone);
  EXPECT_EQ(codes["bad name"], ErrorCode::kInvalidTopicException);
  EXPECT_EQ(controller_->image()->TopicByName("fresh")->partitions.size(), 3u);
}

TEST_F(ControllerTest, FailedAppendLeavesTheImageUnchanged) {
  StartController();
  auto before = controller_->image();
  raft_.FailAppends(absl::UnavailableError("disk gone"));
  auto resp = Create({Topic("lost", 1)});
  EXPECT_EQ(resp.topics[0].error_code, Code(ErrorCode::kUnknownServerError));
  EXPECT_EQ(controller_->image(), before);
  raft_.FailAppends(absl::FailedPreconditionError("not the quorum leader"));
  EXPECT_EQ(Create({Topic("lost", 1)}).topics[0].error_code, Code(ErrorCode::kNotController));
}

TEST_F(ControllerTest, PublisherRunsBeforeTheCommandAnswers) {
  StartController();
  const size_t before = published_.size();
  auto resp = Await<protocol::CreateTopicsResponse>([&](auto done) {
    protocol::CreateTopicsRequest req;
    req.topics.push_back(Topic("pub", 1));
    controller_->CreateTopics(req, 7, [&, done](protocol::CreateTopicsResponse r) {
      EXPECT_EQ(published_.size(), before + 1);
      EXPECT_NE(published_.back()->TopicByName("pub"), nullptr);
      done(std::move(r));
    });
  });
  EXPECT_EQ(resp.topics[0].error_code, 0);
}

TEST_F(ControllerTest, ProducerIdBlocksNeverOverlapAcrossRestarts) {
  StartController();
  using Block = absl::StatusOr<std::pair<int64_t, int64_t>>;
  auto a = Await<Block>([&](auto done) { controller_->AllocateProducerIds(1000, done); });
  auto b = Await<Block>([&](auto done) { controller_->AllocateProducerIds(1000, done); });
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->second, b->first);
  controller_.reset();
  StartController();
  auto c = Await<Block>([&](auto done) { controller_->AllocateProducerIds(10, done); });
  ASSERT_TRUE(c.ok());
  EXPECT_GE(c->first, b->second);
}

TEST_F(ControllerTest, CommandsAfterStopAreAnsweredNotController) {
  StartController();
  controller_->Stop();
  auto resp = Create({Topic("late", 1)});
  EXPECT_EQ(resp.topics[0].error_code, Code(ErrorCode::kNotController));
}

TEST_F(ControllerTest, AnUnreadableRecordStopsStartWithItsOffset) {
  raft_.AppendRaw({0xff, 0xff, 0xff});
  config_ = Config();
  QuorumController c(&raft_, nullptr, QuorumController::Options{NodeId(1), &config_});
  absl::Status s = c.Start(Endpoints());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("offset 0"), std::string::npos) << s;
}

}  // namespace
}  // namespace fjord::controller
