#include "fjord/storage/meta_properties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "fjord/storage/file_system.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::testing::HasSubstr;

TEST(MetaProperties, WriteThenReadBack) {
  fjord::testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  absl::StatusOr<std::optional<MetaProperties>> none = ReadMetaProperties(fs, dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  MetaProperties p;
  p.cluster_id = NewRandomUuidText();
  p.node_id = NodeId(3);
  p.directory_id = NewRandomUuidText();
  ASSERT_TRUE(WriteMetaProperties(fs, dir.path(), p).ok());
  absl::StatusOr<std::optional<MetaProperties>> got = ReadMetaProperties(fs, dir.path());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->cluster_id, p.cluster_id);
  EXPECT_EQ((*got)->node_id, NodeId(3));
  EXPECT_EQ((*got)->directory_id, p.directory_id);
  EXPECT_EQ((*got)->version, 1);
}

TEST(MetaProperties, RandomIdsLookLikeKafkas) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewRandomUuidText();
    EXPECT_EQ(id.size(), 22u);
    EXPECT_EQ(
        id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(MetaProperties, EnsureSharesOneClusterIdAcrossDirs) {
  fjord::testing::TempDir a, b;
  FileSystem& fs = PosixFileSystem();
  absl::StatusOr<std::string> id = EnsureMetaProperties(fs, {a.path()}, NodeId(1), "first");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "first");
  // A second start with a new dir: the id comes from the existing one, not the new value.
  id = EnsureMetaProperties(fs, {a.path(), b.path()}, NodeId(1), "second");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "first");
  absl::StatusOr<std::optional<MetaProperties>> pb = ReadMetaProperties(fs, b.path());
  ASSERT_TRUE(pb.ok() && pb->has_value());
  EXPECT_EQ((*pb)->cluster_id, "first");
}

TEST(MetaProperties, WrongNodeOrMalformedFileIsRefused) {
  fjord::testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  ASSERT_TRUE(EnsureMetaProperties(fs, {dir.path()}, NodeId(1), "c1").ok());
  absl::StatusOr<std::string> id = EnsureMetaProperties(fs, {dir.path()}, NodeId(2), "c1");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(dir.path()));

  for (std::string text : {"garbage without equals\n", "version=1\nnode.id=1\n",
                           "version=1\ncluster.id=x\nnode.id=abc\n", "version=7\ncluster.id=x\n"}) {
    std::ofstream(dir / "meta.properties", std::ios::trunc) << text;
    absl::StatusOr<std::optional<MetaProperties>> got = ReadMetaProperties(fs, dir.path());
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("meta.properties"));
  }
}

}  // namespace
}  // namespace fjord::storage
