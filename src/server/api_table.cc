// The APIs this broker serves, at which versions, and ApiVersions itself.
//
// Advertised ranges (see src/server/README.md for why):
// - Produce is advertised from v0 although v0-v2 (message format 0/1) are refused:
//   librdkafka before 2.11.1 enables gzip/snappy/lz4 only when Produce v0 is advertised
//   (KAFKA-18659 does the same).
// - Metadata v0 is served: kafka-python 2.0.2 probes with it.
// - FindCoordinator is served from v0 (librdkafka needs v0 advertised to enable lz4).
// Only APIs with a real handler are listed; anything else closes the connection.

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"

namespace fjord::server {

using protocol::ApiKey;

namespace {

constexpr ServedApi kServed[] = {
    {ApiKey::kProduce, 0, 3, 11, HandleProduce},
    {ApiKey::kFetch, 4, 4, 17, HandleFetch},
    {ApiKey::kListOffsets, 1, 1, 10, HandleListOffsets},
    {ApiKey::kMetadata, 0, 0, 12, HandleMetadata},
    {ApiKey::kOffsetCommit, 2, 2, 9, HandleOffsetCommit},
    {ApiKey::kOffsetFetch, 1, 1, 9, HandleOffsetFetch},
    {ApiKey::kFindCoordinator, 0, 0, 6, HandleFindCoordinator},
    {ApiKey::kJoinGroup, 0, 0, 9, HandleJoinGroup},
    {ApiKey::kHeartbeat, 0, 0, 4, HandleHeartbeat},
    {ApiKey::kLeaveGroup, 0, 0, 5, HandleLeaveGroup},
    {ApiKey::kSyncGroup, 0, 0, 5, HandleSyncGroup},
    {ApiKey::kDescribeGroups, 0, 0, 5, HandleDescribeGroups},
    {ApiKey::kListGroups, 0, 0, 5, HandleListGroups},
    {ApiKey::kApiVersions, 0, 0, 4, HandleApiVersions},
    {ApiKey::kCreateTopics, 2, 2, 7, HandleCreateTopics},
    {ApiKey::kDeleteTopics, 1, 1, 6, HandleDeleteTopics},
    {ApiKey::kDeleteRecords, 0, 0, 2, HandleDeleteRecords},
    {ApiKey::kInitProducerId, 0, 0, 5, HandleInitProducerId},
    {ApiKey::kAddPartitionsToTxn, 0, 0, 5, HandleAddPartitionsToTxn},
    {ApiKey::kAddOffsetsToTxn, 0, 0, 4, HandleAddOffsetsToTxn},
    {ApiKey::kEndTxn, 0, 0, 4, HandleEndTxn},
    {ApiKey::kTxnOffsetCommit, 0, 0, 4, HandleTxnOffsetCommit},
    {ApiKey::kWriteTxnMarkers, 0, 0, 1, HandleWriteTxnMarkers},
    {ApiKey::kDescribeProducers, 0, 0, 0, HandleDescribeProducers},
    {ApiKey::kDescribeTransactions, 0, 0, 0, HandleDescribeTransactions},
    {ApiKey::kListTransactions, 0, 0, 1, HandleListTransactions},
    {ApiKey::kDeleteGroups, 0, 0, 2, HandleDeleteGroups},
    {ApiKey::kOffsetDelete, 0, 0, 0, HandleOffsetDelete},
    {ApiKey::kOffsetForLeaderEpoch, 2, 2, 4, HandleOffsetForLeaderEpoch},
    {ApiKey::kDescribeConfigs, 1, 1, 4, HandleDescribeConfigs},
    {ApiKey::kAlterConfigs, 0, 0, 2, HandleAlterConfigs},
    {ApiKey::kDescribeLogDirs, 1, 1, 4, HandleDescribeLogDirs},
    {ApiKey::kCreatePartitions, 0, 0, 3, HandleCreatePartitions},
    {ApiKey::kIncrementalAlterConfigs, 0, 0, 1, HandleIncrementalAlterConfigs},
    {ApiKey::kDescribeCluster, 0, 0, 1, HandleDescribeCluster},
};

protocol::ApiVersionsResponse BuildApiVersions(const Broker& b) {
  protocol::ApiVersionsResponse resp;
  for (const ServedApi& api : kServed) {
    protocol::ApiVersionsResponse::ApiVersion v;
    v.api_key = static_cast<int16_t>(api.key);
    v.min_version = api.advertised_min;
    v.max_version = api.max;
    resp.api_keys.push_back(v);
  }
  // v3+: the finalized feature levels from the metadata log (KIP-584).
  auto image = b.image();
  resp.finalized_features_epoch = image->offset().value;
  for (const auto& [name, level] : image->features()) {
    protocol::ApiVersionsResponse::FinalizedFeatureKey f;
    f.name = name;
    f.min_version_level = level;
    f.max_version_level = level;
    resp.finalized_features.push_back(f);
    protocol::ApiVersionsResponse::SupportedFeatureKey s;
    s.name = name;
    s.min_version = level;
    s.max_version = level;
    resp.supported_features.push_back(s);
  }
  return resp;
}

}  // namespace

std::span<const ServedApi> ServedApis() { return kServed; }

const ServedApi* FindServedApi(int16_t key) {
  for (const ServedApi& api : kServed) {
    if (static_cast<int16_t>(api.key) == key) return &api;
  }
  return nullptr;
}

// KIP-511: a client software name or version must match
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
bool ValidSoftwareField(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

void HandleApiVersions(Broker& b, RequestPtr r) {
  protocol::ApiVersionsRequest req;
  if (!DecodeBody(*r, &req)) return;
  if (r->version >= 3 && (!ValidSoftwareField(req.client_software_name) ||
                          !ValidSoftwareField(req.client_software_version))) {
    // Kafka answers INVALID_REQUEST with no API list.
    protocol::ApiVersionsResponse resp;
    resp.error_code = Code(protocol::ErrorCode::kInvalidRequest);
    Respond(*r, resp);
    return;
  }
  protocol::ApiVersionsResponse resp = BuildApiVersions(b);
  Respond(*r, resp);
}

void RespondUnsupportedApiVersions(Broker& b, RequestPtr r) {
  protocol::ApiVersionsResponse resp = BuildApiVersions(b);
  resp.error_code = Code(protocol::ErrorCode::kUnsupportedVersion);
  r->version = 0;
  Respond(*r, resp);
}

}  // namespace fjord::server
