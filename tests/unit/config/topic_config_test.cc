#include "fjord/config/topic_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace fjord::config {
namespace {

using ::testing::HasSubstr;

BrokerConfig Broker(std::vector<std::string> overrides) {
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(std::nullopt, overrides);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

const ConfigEntry& Find(const std::vector<ConfigEntry>& entries, std::string_view name) {
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const ConfigEntry& e) { return e.name == name; });
  EXPECT_NE(it, entries.end()) << name;
  return *it;
}

TEST(TopicConfig, ValidationNamesTheKey) {
  EXPECT_TRUE(ValidateTopicConfig("retention.ms", "-1").ok());
  EXPECT_TRUE(ValidateTopicConfig("cleanup.policy", "compact,delete").ok());
  absl::Status s = ValidateTopicConfig("retention.mss", "1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("retention.mss"));
  s = ValidateTopicConfig("retention.ms", "soon");
  EXPECT_THAT(std::string(s.message()), HasSubstr("retention.ms"));
  EXPECT_FALSE(ValidateTopicConfig("retention.ms", "-2").ok());
  EXPECT_FALSE(ValidateTopicConfig("cleanup.policy", "shred").ok());
  EXPECT_FALSE(ValidateTopicConfig("message.timestamp.type", "WallTime").ok());
}

TEST(TopicConfig, LogConfigTakesBrokerDefaultsThenOverrides) {
  BrokerConfig broker = Broker({"log.retention.hours=1", "log.segment.bytes=1048576"});
  absl::StatusOr<storage::LogConfig> c = MakeLogConfig(broker, {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->retention_ms, 3600000);
  EXPECT_EQ(c->segment_bytes, 1048576);
  c = MakeLogConfig(broker, {{"retention.ms", "5000"},
                             {"message.timestamp.type", "LogAppendTime"},
                             {"flush.messages", "1"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->retention_ms, 5000);
  EXPECT_EQ(c->segment_bytes, 1048576);
  EXPECT_EQ(c->message_timestamp_type, protocol::TimestampType::kLogAppendTime);
  EXPECT_EQ(c->flush_messages, 1);
  EXPECT_FALSE(MakeLogConfig(broker, {{"segment.bytes", "x"}}).ok());
}

TEST(TopicConfig, DescribeReportsSourcesAndSynonyms) {
  BrokerConfig broker = Broker({"log.retention.minutes=10"});
  std::vector<ConfigEntry> entries = DescribeTopicConfigs(broker, {{"segment.bytes", "2097152"}});

  const ConfigEntry& segment = Find(entries, "segment.bytes");
  EXPECT_EQ(segment.value, "2097152");
  EXPECT_EQ(segment.source, ConfigSource::kDynamicTopicConfig);
  ASSERT_GE(segment.synonyms.size(), 2u);
  EXPECT_EQ(segment.synonyms[0].source, ConfigSource::kDynamicTopicConfig);
  EXPECT_EQ(segment.synonyms[1].name, "log.segment.bytes");

  const ConfigEntry& retention = Find(entries, "retention.ms");
  EXPECT_EQ(retention.value, "600000");
  EXPECT_EQ(retention.source, ConfigSource::kStaticBrokerConfig);
  bool saw_minutes = false;
  for (const ConfigSynonym& s : retention.synonyms) {
    if (s.name == "log.retention.minutes") {
      saw_minutes = true;
      EXPECT_EQ(s.value, "10");
      EXPECT_EQ(s.source, ConfigSource::kStaticBrokerConfig);
    }
  }
  EXPECT_TRUE(saw_minutes);

  const ConfigEntry& cleanup = Find(entries, "cleanup.policy");
  EXPECT_EQ(cleanup.value, "delete");
  EXPECT_EQ(cleanup.source, ConfigSource::kDefaultConfig);
}

TEST(TopicConfig, BrokerDescribeHidesSensitiveValues) {
  std::vector<ConfigEntry> entries = DescribeBrokerConfigs(Broker({"num.partitions=4"}));
  EXPECT_EQ(Find(entries, "num.partitions").value, "4");
  EXPECT_EQ(Find(entries, "num.partitions").source, ConfigSource::kStaticBrokerConfig);
  for (const ConfigEntry& e : entries) {
    if (e.sensitive) {
      EXPECT_FALSE(e.value.has_value()) << e.name;
    }
  }
}

}  // namespace
}  // namespace fjord::config
