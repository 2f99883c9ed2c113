#include "fjord/metadata/metadata_image.h"

#include <gtest/gtest.h>

namespace fjord::metadata {
namespace {

namespace pm = protocol::metadata;

protocol::Uuid Id(uint8_t b) {
  protocol::Uuid id;
  id.bytes.fill(b);
  return id;
}

pm::TopicRecord Topic(std::string name, uint8_t id) {
  pm::TopicRecord r;
  r.name = std::move(name);
  r.topic_id = Id(id);
  return r;
}

pm::PartitionRecord Partition(uint8_t topic, int32_t p) {
  pm::PartitionRecord r;
  r.topic_id = Id(topic);
  r.partition_id = PartitionId(p);
  r.replicas = {NodeId(1)};
  r.isr = {NodeId(1)};
  r.leader = NodeId(1);
  r.leader_epoch = LeaderEpoch(0);
  r.partition_epoch = 0;
  return r;
}

pm::ConfigRecord Config(std::string topic, std::string name, std::optional<std::string> value) {
  pm::ConfigRecord r;
  r.resource_type = kTopicResource;
  r.resource_name = std::move(topic);
  r.name = std::move(name);
  r.value = std::move(value);
  return r;
}

std::shared_ptr<const MetadataImage> Build(const std::vector<MetadataRecord>& records) {
  MetadataDelta d(MetadataImage::Empty());
  for (const MetadataRecord& r : records) EXPECT_TRUE(d.Replay(r).ok()) << RecordName(r);
  return d.Apply(Offset(static_cast<int64_t>(records.size()) - 1));
}

TEST(MetadataImage, EmptyImage) {
  auto e = MetadataImage::Empty();
  EXPECT_EQ(e->offset(), Offset(-1));
  EXPECT_TRUE(e->topics().empty());
  EXPECT_EQ(e->TopicByName("x"), nullptr);
  EXPECT_EQ(e->next_producer_id(), 0);
}

TEST(MetadataImage, TopicsPartitionsAndConfigs) {
  auto img = Build({Topic("a", 1), Partition(1, 0), Partition(1, 1), Topic("b", 2), Partition(2, 0),
                    Config("a", "retention.ms", "5")});
  EXPECT_EQ(img->offset(), Offset(5));
  ASSERT_NE(img->TopicByName("a"), nullptr);
  EXPECT_EQ(img->TopicByName("a")->partitions.size(), 2u);
  EXPECT_EQ(img->TopicById(Id(2))->name, "b");
  EXPECT_EQ(img->TopicConfigs("a").at("retention.ms"), "5");
  EXPECT_TRUE(img->TopicConfigs("b").empty());

  // A null value deletes the override.
  MetadataDelta d(img);
  ASSERT_TRUE(d.Replay(Config("a", "retention.ms", std::nullopt)).ok());
  auto next = d.Apply(Offset(6));
  EXPECT_TRUE(next->TopicConfigs("a").empty());
  EXPECT_EQ(img->TopicConfigs("a").at("retention.ms"), "5") << "the old image is unchanged";
}

TEST(MetadataImage, UnchangedTopicsAreSharedAndChangedOnesCopied) {
  auto img = Build({Topic("a", 1), Partition(1, 0), Topic("b", 2), Partition(2, 0)});
  MetadataDelta d(img);
  pm::PartitionChangeRecord change;
  change.topic_id = Id(1);
  change.partition_id = PartitionId(0);
  change.leader = NodeId(-1);
  ASSERT_TRUE(d.Replay(change).ok());
  auto next = d.Apply(Offset(4));
  EXPECT_EQ(next->topics().at("b").get(), img->topics().at("b").get());
  EXPECT_NE(next->topics().at("a").get(), img->topics().at("a").get());
  EXPECT_EQ(next->TopicByName("a")->partitions[0].leader, NodeId(-1));
  EXPECT_EQ(next->TopicByName("a")->partitions[0].leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(next->TopicByName("a")->partitions[0].partition_epoch, 1);
  EXPECT_EQ(img->TopicByName("a")->partitions[0].leader, NodeId(1));

  // Replaying more into the same delta does not touch the image already applied.
  change.leader = NodeId(1);
  ASSERT_TRUE(d.Replay(change).ok());
  EXPECT_EQ(next->TopicByName("a")->partitions[0].leader, NodeId(-1));
}

TEST(MetadataImage, RemoveTopicDropsItsConfigsAndId) {
  pm::RemoveTopicRecord remove;
  remove.topic_id = Id(1);
  auto img = Build(
      {Topic("a", 1), Partition(1, 0), Config("a", "retention.ms", "5"), remove, Topic("a", 3)});
  ASSERT_NE(img->TopicByName("a"), nullptr);
  EXPECT_EQ(img->TopicByName("a")->id, Id(3));
  EXPECT_TRUE(img->TopicByName("a")->partitions.empty());
  EXPECT_EQ(img->TopicById(Id(1)), nullptr);
  EXPECT_TRUE(img->TopicConfigs("a").empty());
}

TEST(MetadataImage, InconsistentRecordsFailAndChangeNothing) {
  auto img = Build({Topic("a", 1), Partition(1, 0)});
  MetadataDelta d(img);
  EXPECT_EQ(d.Replay(Topic("a", 9)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(d.Replay(Topic("other", 1)).ok()) << "topic id in use";
  EXPECT_FALSE(d.Replay(Topic("zero", 0)).ok()) << "zero topic id";
  EXPECT_FALSE(d.Replay(Partition(5, 0)).ok()) << "unknown topic";
  EXPECT_FALSE(d.Replay(Partition(1, 3)).ok()) << "gap in partition ids";
  pm::PartitionRecord no_replicas = Partition(1, 1);
  no_replicas.replicas.clear();
  EXPECT_FALSE(d.Replay(no_replicas).ok());
  pm::PartitionChangeRecord change;
  change.topic_id = Id(1);
  change.partition_id = PartitionId(1);
  EXPECT_FALSE(d.Replay(change).ok()) << "unknown partition";
  pm::RemoveTopicRecord remove;
  remove.topic_id = Id(4);
  EXPECT_FALSE(d.Replay(remove).ok());
  pm::FenceBrokerRecord fence;
  fence.id = NodeId(8);
  EXPECT_FALSE(d.Replay(fence).ok());
  EXPECT_TRUE(d.empty());
  auto next = d.Apply(Offset(2));
  EXPECT_EQ(next->topics().size(), 1u);
  EXPECT_EQ(next->TopicByName("a")->partitions.size(), 1u);
}

TEST(MetadataImage, BrokersFeaturesAndProducerIds) {
  pm::RegisterBrokerRecord reg;
  reg.broker_id = NodeId(1);
  reg.broker_epoch = 10;
  reg.fenced = false;
  pm::RegisterBrokerRecord::BrokerEndpoint ep;
  ep.name = "PLAINTEXT";
  ep.host = "127.0.0.1";
  ep.port = 9092;
  reg.end_points.push_back(ep);
  pm::FeatureLevelRecord feature;
  feature.name = "metadata.version";
  feature.feature_level = 21;
  pm::ProducerIdsRecord pids;
  pids.broker_id = NodeId(1);
  pids.next_producer_id = ProducerId(1000);
  auto img = Build({reg, feature, pids});
  ASSERT_NE(img->Broker(NodeId(1)), nullptr);
  EXPECT_EQ(img->Broker(NodeId(1))->epoch, 10);
  EXPECT_FALSE(img->Broker(NodeId(1))->fenced);
  EXPECT_EQ(img->Broker(NodeId(1))->endpoints.at(0).port, 9092);
  EXPECT_EQ(img->FeatureLevel("metadata.version"), 21);
  EXPECT_EQ(img->next_producer_id(), 1000);

  MetadataDelta d(img);
  pids.next_producer_id = ProducerId(999);
  EXPECT_FALSE(d.Replay(pids).ok()) << "producer ids never go backwards";
  feature.feature_level = 0;
  ASSERT_TRUE(d.Replay(feature).ok());
  EXPECT_FALSE(d.Apply(Offset(3))->FeatureLevel("metadata.version").has_value());
}

}  // namespace
}  // namespace fjord::metadata
