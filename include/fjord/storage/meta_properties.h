#pragma once
// meta.properties, one per data directory, as Kafka's `kafka-storage format` writes it
// for KRaft (version=1): the cluster id, the node id and the directory id. It ties a
// directory to one cluster and one node, so a disk moved to the wrong node is refused.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/file_system.h"

namespace fjord::storage {

inline constexpr const char* kMetaPropertiesFileName = "meta.properties";

struct MetaProperties {
  int32_t version = 1;
  std::string cluster_id;
  NodeId node_id{-1};
  std::string directory_id;
};

// nullopt when the file does not exist; an error naming the file when it is malformed.
absl::StatusOr<std::optional<MetaProperties>> ReadMetaProperties(FileSystem& fs,
                                                                 const std::string& dir);
// Atomic: temporary file, fsync, rename, directory fsync.
absl::Status WriteMetaProperties(FileSystem& fs, const std::string& dir,
                                 const MetaProperties& props);
// A random UUID in Kafka's text form (22 characters of URL-safe base64, no padding).
std::string NewRandomUuidText();
// Every dir gets a meta.properties agreeing on the cluster id and node id: existing files
// are checked (a mismatch fails naming both values and the dir); missing ones are written
// with the cluster id found in another dir, else `cluster_id_if_new`. Returns the id.
absl::StatusOr<std::string> EnsureMetaProperties(FileSystem& fs,
                                                 const std::vector<std::string>& dirs,
                                                 NodeId node_id,
                                                 const std::string& cluster_id_if_new);

}  // namespace fjord::storage
