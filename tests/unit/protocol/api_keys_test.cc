#include "fjord/protocol/api_keys.h"

#include <gtest/gtest.h>

namespace fjord::protocol {
namespace {

TEST(ApiKeys, TableCoversEveryKeyOfTheSpecs) {
  // The specs define keys 0..87 without gaps.
  for (int16_t key = 0; key <= 87; ++key) {
    const ApiInfo* api = FindApi(key);
    ASSERT_NE(api, nullptr) << key;
    EXPECT_EQ(static_cast<int16_t>(api->key), key);
    EXPECT_LE(api->min_version, api->max_version);
  }
  EXPECT_EQ(FindApi(-1), nullptr);
  EXPECT_EQ(FindApi(88), nullptr);
  EXPECT_EQ(FindApi(32767), nullptr);
}

TEST(ApiKeys, KnownRangesAndFlexibleVersions) {
  const ApiInfo* produce = FindApi(0);
  EXPECT_EQ(produce->name, "Produce");
  EXPECT_EQ(produce->max_version, 11);
  EXPECT_EQ(produce->first_flexible_version, 9);
  EXPECT_EQ(FindApi(18)->name, "ApiVersions");
  EXPECT_EQ(FindApi(17)->first_flexible_version, -1);  // SaslHandshake is never flexible.
  EXPECT_TRUE(FindApi(1)->IsFlexible(12));
  EXPECT_FALSE(FindApi(1)->IsFlexible(11));
}

TEST(ApiKeys, HeaderVersionsFollowFlexibility) {
  const ApiInfo& fetch = *FindApi(1);
  EXPECT_EQ(RequestHeaderVersion(fetch, 11), 1);
  EXPECT_EQ(RequestHeaderVersion(fetch, 12), 2);
  EXPECT_EQ(ResponseHeaderVersion(fetch, 11), 0);
  EXPECT_EQ(ResponseHeaderVersion(fetch, 12), 1);
  // KIP-511: ApiVersions responses always use header v0, even when the body is flexible.
  const ApiInfo& api_versions = *FindApi(18);
  EXPECT_EQ(RequestHeaderVersion(api_versions, 3), 2);
  EXPECT_EQ(ResponseHeaderVersion(api_versions, 3), 0);
  EXPECT_EQ(RequestHeaderVersion(*FindApi(7), 0), 0);  // ControlledShutdown v0.
}

}  // namespace
}  // namespace fjord::protocol
