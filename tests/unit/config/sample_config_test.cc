#include "fjord/config/sample_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fjord/config/broker_config.h"

namespace fjord::config {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SampleConfig, CommittedFileIsTheGeneratedOne) {
  EXPECT_EQ(ReadFile(FJORD_SAMPLE_CONFIG), SampleConfigYaml())
      << "config/fjord.yaml is stale: regenerate it with `fjord --print-config > "
         "config/fjord.yaml`";
}

TEST(SampleConfig, LoadsToExactlyTheDefaults) {
  absl::StatusOr<BrokerConfig> c = BrokerConfig::Load(std::string(FJORD_SAMPLE_CONFIG), {});
  ASSERT_TRUE(c.ok()) << c.status();
  const BrokerConfig defaults = BrokerConfig::Defaults();
  for (const ConfigDef& def : BrokerConfigDefs()) {
    EXPECT_EQ(c->GetRaw(def.name), defaults.GetRaw(def.name)) << def.name;
  }
}

TEST(SampleConfig, NamesEverySetting) {
  const std::string text = SampleConfigYaml();
  for (const ConfigDef& def : BrokerConfigDefs()) {
    const std::string key = std::string(def.name) + ":";
    EXPECT_TRUE(text.find("\n" + key) != std::string::npos ||
                text.find("\n# " + key) != std::string::npos)
        << def.name;
  }
}

}  // namespace
}  // namespace fjord::config
