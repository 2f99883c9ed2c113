#include "fjord/config/broker_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.h"

namespace fjord::config {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const testing::TempDir& dir, const std::string& text) {
  std::string path = dir / "fjord.yaml";
  std::ofstream(path) << text;
  return path;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(BrokerConfig, DefaultsAreKafkas) {
  BrokerConfig c = BrokerConfig::Defaults();
  EXPECT_EQ(c.GetInt("node.id"), 1);
  EXPECT_EQ(c.GetInt("num.partitions"), 1);
  EXPECT_TRUE(c.GetBool("auto.create.topics.enable"));
  EXPECT_EQ(c.GetInt("socket.request.max.bytes"), 104857600);
  EXPECT_EQ(c.GetInt("message.max.bytes"), 1048588);
  EXPECT_EQ(c.GetLong("connections.max.idle.ms"), 600000);
  EXPECT_EQ(c.GetInt("log.segment.bytes"), 1073741824);
  EXPECT_EQ(c.LogRetentionMs(), 168LL * 3600 * 1000);
  EXPECT_EQ(c.LogRollMs(), 168LL * 3600 * 1000);
  EXPECT_EQ(c.LogRollJitterMs(), 0);
  EXPECT_EQ(c.LogDirs(), std::vector<std::string>{"./data"});
  EXPECT_EQ(c.GetList("listeners"), std::vector<std::string>{"PLAINTEXT://127.0.0.1:9092"});
  EXPECT_FALSE(c.GetRaw("log.dirs").has_value());
  EXPECT_EQ(c.Source("num.partitions"), ConfigSource::kDefaultConfig);
}

TEST(BrokerConfig, NoFileAndNoOverridesEqualsDefaults) {
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(std::nullopt, {});
  ASSERT_TRUE(c.ok()) << c.status();
  for (const ConfigDef& def : BrokerConfigDefs()) {
    EXPECT_EQ(c->GetRaw(def.name), BrokerConfig::Defaults().GetRaw(def.name)) << def.name;
  }
}

TEST(BrokerConfig, YamlFlatNestedAndListsAreRead) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, R"(
node.id: 7
num.partitions: 3
log:
  retention:
    hours: 2
  dirs:
    - /a
    - /b
auto.create.topics.enable: false
)");
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetInt("node.id"), 7);
  EXPECT_EQ(c->GetInt("num.partitions"), 3);
  EXPECT_EQ(c->LogRetentionMs(), 2LL * 3600 * 1000);
  EXPECT_EQ(c->LogDirs(), (std::vector<std::string>{"/a", "/b"}));
  EXPECT_FALSE(c->GetBool("auto.create.topics.enable"));
  EXPECT_EQ(c->Source("num.partitions"), ConfigSource::kStaticBrokerConfig);
  EXPECT_EQ(c->Source("message.max.bytes"), ConfigSource::kDefaultConfig);
}

TEST(BrokerConfig, OverridesWinOverTheFile) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "num.partitions: 3\n");
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(path, {"num.partitions=9", "node.id=4"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetInt("num.partitions"), 9);
  EXPECT_EQ(c->GetInt("node.id"), 4);
}

TEST(BrokerConfig, RetentionPrecedenceIsMsThenMinutesThenHours) {
  absl::StatusOr<BrokerConfig> c =
      BrokerConfig::Load(std::nullopt, {"log.retention.hours=5", "log.retention.minutes=7"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->LogRetentionMs(), 7LL * 60 * 1000);
  c = BrokerConfig::Load(std::nullopt, {"log.retention.minutes=7", "log.retention.ms=-1"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->LogRetentionMs(), -1);
  c = BrokerConfig::Load(std::nullopt, {"log.roll.hours=1", "log.roll.jitter.hours=1"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->LogRollMs(), 3600000);
  EXPECT_EQ(c->LogRollJitterMs(), 3600000);
}

TEST(BrokerConfig, UnknownKeyNamesTheKeyAndTheLine) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "node.id: 1\nnum.partitons: 3\n");
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(c.status()), HasSubstr("num.partitons"));
  EXPECT_THAT(Message(c.status()), HasSubstr("line 2"));
  EXPECT_THAT(Message(c.status()), HasSubstr(path));
}

TEST(BrokerConfig, BadValueNamesKeyValueAndWhatIsAllowed) {
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(std::nullopt, {"num.partitions=abc"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("num.partitions"));
  EXPECT_THAT(Message(c.status()), HasSubstr("abc"));
  EXPECT_THAT(Message(c.status()), HasSubstr("--set"));

  c = BrokerConfig::Load(std::nullopt, {"num.partitions=0"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr(">= 1"));

  c = BrokerConfig::Load(std::nullopt, {"auto.create.topics.enable=maybe"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("auto.create.topics.enable"));

  c = BrokerConfig::Load(std::nullopt, {"node.id=99999999999"});
  EXPECT_FALSE(c.ok()) << "an int setting must refuse a value beyond 32 bits";

  c = BrokerConfig::Load(std::nullopt, {"log.cleanup.policy=shred"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("shred"));
}

TEST(BrokerConfig, MalformedOverrideAndYaml) {
  EXPECT_FALSE(BrokerConfig::Load(std::nullopt, {"num.partitions"}).ok());
  EXPECT_FALSE(BrokerConfig::Load(std::nullopt, {"=3"}).ok());

  testing::TempDir dir;
  std::string path = WriteFile(dir, "a: [unclosed\n");
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("malformed YAML"));

  path = WriteFile(dir, "- just\n- a list\n");
  c = BrokerConfig::Load(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("mapping"));

  c = BrokerConfig::Load(dir / "missing.yaml", {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(BrokerConfig, EmptyFileIsTheDefaults) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "# nothing set\n");
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetInt("num.partitions"), 1);
}

TEST(BrokerConfig, ListenersAreCheckedAgainstEachOther) {
  EXPECT_FALSE(BrokerConfig::Load(std::nullopt, {"listeners=PLAINTEXT://:notaport"}).ok());
  EXPECT_FALSE(BrokerConfig::Load(std::nullopt, {"listeners=BOGUS://127.0.0.1:1"}).ok());
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(
      std::nullopt, {"listeners=PLAINTEXT://127.0.0.1:1", "advertised.listeners=OTHER://h:2"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Message(c.status()), HasSubstr("advertised.listeners"));
  EXPECT_TRUE(
      BrokerConfig::Load(std::nullopt, {"listeners=PLAINTEXT://127.0.0.1:0",
                                        "advertised.listeners=PLAINTEXT://host.example:9092"})
          .ok());
}

}  // namespace
}  // namespace fjord::config
