// ListOffsets, OffsetForLeaderEpoch and DeleteRecords: per-partition questions about
// offsets, each answered on the partition's loop.

#include "absl/container/flat_hash_map.h"
#include "broker.h"
#include "fjord/protocol/messages/delete_records_request.h"
#include "fjord/protocol/messages/delete_records_response.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"
#include "fjord/protocol/messages/offset_for_leader_epoch_request.h"
#include "fjord/protocol/messages/offset_for_leader_epoch_response.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

// KIP-1005: the highest offset in tiered storage; there is none here, so -1.
constexpr int64_t kLatestTieredTimestamp = -5;

// Looks every (topic, partition) of a request up in the image. `emit(t, p, error)` builds
// the response entry; partitions that exist are returned for the loops to answer.
// `refuse(t, p)`, asked first, answers a partition with an error of its own.
template <typename Topics, typename GetName, typename GetPartitions, typename GetIndex,
          typename Emit, typename Refuse>
std::vector<std::pair<size_t, size_t>> Resolve(const metadata::MetadataImage& image,
                                               const Topics& topics, GetName name_of,
                                               GetPartitions partitions_of, GetIndex index_of,
                                               Emit emit, std::vector<storage::TopicPartition>* tps,
                                               Refuse refuse) {
  std::vector<std::pair<size_t, size_t>> found;
  for (size_t t = 0; t < topics.size(); ++t) {
    const std::string& name = name_of(topics[t]);
    const metadata::TopicImage* topic = image.TopicByName(name);
    const auto& parts = partitions_of(topics[t]);
    for (size_t p = 0; p < parts.size(); ++p) {
      PartitionId index = index_of(parts[p]);
      if (ErrorCode e = refuse(t, p); e != ErrorCode::kNone) {
        emit(t, p, e);
        continue;
      }
      if (topic == nullptr || !topic->HasPartition(index.value)) {
        emit(t, p, ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      emit(t, p, ErrorCode::kNone);
      found.emplace_back(t, p);
      tps->push_back(storage::TopicPartition{name, index});
    }
  }
  return found;
}

constexpr auto NoRefusal = [](size_t, size_t) { return ErrorCode::kNone; };

// Whether ListOffsets at `version` knows `timestamp`: any timestamp from 0, and the special
// ones from the version that brought each (-1 latest, -2 earliest, -3 max timestamp from
// v7 (KIP-734), -4 earliest local from v8 (KIP-405), -5 latest tiered from v9 (KIP-1005)).
// Kafka 3.9+ answers anything else with UNSUPPORTED_VERSION.
bool KnownTimestamp(int64_t timestamp, int16_t version) {
  switch (timestamp) {
    case storage::kLatestTimestamp:
    case storage::kEarliestTimestamp:
      return true;
    case storage::kMaxTimestamp:
      return version >= 7;
    case storage::kEarliestLocalTimestamp:
      return version >= 8;
    case kLatestTieredTimestamp:
      return version >= 9;
    default:
      return timestamp >= 0;
  }
}

}  // namespace

void HandleListOffsets(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ListOffsetsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto resp = std::make_shared<protocol::ListOffsetsResponse>();
  for (const auto& t : req->topics) {
    protocol::ListOffsetsResponse::ListOffsetsTopicResponse tr;
    tr.name = t.name;
    tr.partitions.resize(t.partitions.size());
    resp->topics.push_back(std::move(tr));
  }
  // Kafka answers every mention of a partition named more than once INVALID_REQUEST.
  absl::flat_hash_map<std::pair<std::string, int32_t>, int> mentions;
  for (const auto& t : req->topics) {
    for (const auto& p : t.partitions) ++mentions[{t.name, p.partition_index.value}];
  }
  const int16_t version = r->version;
  std::vector<storage::TopicPartition> tps;
  auto found = Resolve(
      *b.image(), req->topics, [](const auto& t) -> const std::string& { return t.name; },
      [](const auto& t) -> const auto& { return t.partitions; },
      [](const auto& p) { return p.partition_index; },
      [&](size_t t, size_t p, ErrorCode e) {
        auto& pr = resp->topics[t].partitions[p];
        pr.partition_index = req->topics[t].partitions[p].partition_index;
        pr.error_code = Code(e);
      },
      &tps,
      [&](size_t t, size_t p) {
        const auto& q = req->topics[t].partitions[p];
        if (mentions[{req->topics[t].name, q.partition_index.value}] > 1) {
          return ErrorCode::kInvalidRequest;
        }
        return KnownTimestamp(q.timestamp, version) ? ErrorCode::kNone
                                                    : ErrorCode::kUnsupportedVersion;
      });
  const bool read_committed = req->isolation_level == 1;
  b.ForEachPartition(
      r->conn.loop, tps,
      [&b, req, resp, found, tps, read_committed](size_t i, cluster::Partition* partition) {
        auto [t, p] = found[i];
        const auto& q = req->topics[t].partitions[p];
        auto& pr = resp->topics[t].partitions[p];
        if (partition == nullptr || !partition->IsLeader()) {
          pr.error_code = Code(b.NotServedError(tps[i]));
          return;
        }
        if (ErrorCode e = partition->CheckLeaderEpoch(q.current_leader_epoch.value);
            e != ErrorCode::kNone) {
          pr.error_code = Code(e);
          return;
        }
        const Offset visible =
            read_committed ? partition->last_stable_offset() : partition->high_watermark();
        if (q.timestamp == kLatestTieredTimestamp) return;  // -1 / -1: nothing is tiered
        if (q.timestamp == storage::kLatestTimestamp) {
          pr.offset = visible;
          pr.timestamp = -1;
          if (auto epoch = partition->log().LatestEpoch()) pr.leader_epoch = *epoch;
          return;
        }
        absl::StatusOr<std::optional<storage::TimestampAndOffset>> found_offset =
            partition->log().FetchOffsetByTimestamp(q.timestamp);
        if (!found_offset.ok()) {
          pr.error_code = Code(ErrorCode::kKafkaStorageError);
          return;
        }
        // Nothing that recent, or not yet visible to consumers: Kafka answers -1/-1.
        if (!found_offset->has_value() ||
            ((*found_offset)->offset >= visible && q.timestamp != storage::kEarliestTimestamp &&
             q.timestamp != storage::kEarliestLocalTimestamp)) {
          pr.offset = Offset(-1);
          pr.timestamp = -1;
          return;
        }
        pr.offset = (*found_offset)->offset;
        pr.timestamp = (*found_offset)->timestamp;
      },
      [r, resp] { Respond(*r, *resp); });
}

void HandleOffsetForLeaderEpoch(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::OffsetForLeaderEpochRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto resp = std::make_shared<protocol::OffsetForLeaderEpochResponse>();
  for (const auto& t : req->topics) {
    protocol::OffsetForLeaderEpochResponse::OffsetForLeaderTopicResult tr;
    tr.topic = t.topic;
    tr.partitions.resize(t.partitions.size());
    resp->topics.push_back(std::move(tr));
  }
  std::vector<storage::TopicPartition> tps;
  auto found = Resolve(
      *b.image(), req->topics, [](const auto& t) -> const std::string& { return t.topic; },
      [](const auto& t) -> const auto& { return t.partitions; },
      [](const auto& p) { return p.partition; },
      [&](size_t t, size_t p, ErrorCode e) {
        auto& pr = resp->topics[t].partitions[p];
        pr.partition = req->topics[t].partitions[p].partition;
        pr.error_code = Code(e);
      },
      &tps, NoRefusal);
  b.ForEachPartition(
      r->conn.loop, tps,
      [&b, req, resp, found, tps](size_t i, cluster::Partition* partition) {
        auto [t, p] = found[i];
        const auto& q = req->topics[t].partitions[p];
        auto& pr = resp->topics[t].partitions[p];
        if (partition == nullptr || !partition->IsLeader()) {
          pr.error_code = Code(b.NotServedError(tps[i]));
          return;
        }
        if (ErrorCode e = partition->CheckLeaderEpoch(q.current_leader_epoch.value);
            e != ErrorCode::kNone) {
          pr.error_code = Code(e);
          return;
        }
        auto [epoch, end] = partition->log().EndOffsetForEpoch(q.leader_epoch);
        pr.leader_epoch = epoch;
        pr.end_offset = end;
      },
      [r, resp] { Respond(*r, *resp); });
}

void HandleDeleteRecords(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::DeleteRecordsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto resp = std::make_shared<protocol::DeleteRecordsResponse>();
  for (const auto& t : req->topics) {
    protocol::DeleteRecordsResponse::DeleteRecordsTopicResult tr;
    tr.name = t.name;
    tr.partitions.resize(t.partitions.size());
    resp->topics.push_back(std::move(tr));
  }
  std::vector<storage::TopicPartition> tps;
  auto found = Resolve(
      *b.image(), req->topics, [](const auto& t) -> const std::string& { return t.name; },
      [](const auto& t) -> const auto& { return t.partitions; },
      [](const auto& p) { return p.partition_index; },
      [&](size_t t, size_t p, ErrorCode e) {
        auto& pr = resp->topics[t].partitions[p];
        pr.partition_index = req->topics[t].partitions[p].partition_index;
        pr.low_watermark = Offset(-1);
        pr.error_code = Code(e);
      },
      &tps, NoRefusal);
  b.ForEachPartition(
      r->conn.loop, tps,
      [&b, req, resp, found, tps](size_t i, cluster::Partition* partition) {
        auto [t, p] = found[i];
        const auto& q = req->topics[t].partitions[p];
        auto& pr = resp->topics[t].partitions[p];
        if (partition == nullptr || !partition->IsLeader()) {
          pr.error_code = Code(b.NotServedError(tps[i]));
          return;
        }
        // -1 means "up to the high watermark"; beyond it is OFFSET_OUT_OF_RANGE.
        Offset target = q.offset.value == -1 ? partition->high_watermark() : q.offset;
        if (target.value < 0 || target > partition->high_watermark()) {
          pr.error_code = Code(ErrorCode::kOffsetOutOfRange);
          return;
        }
        absl::StatusOr<bool> moved = partition->log().MaybeIncrementLogStartOffset(target);
        if (!moved.ok()) {
          pr.error_code = Code(ErrorCode::kKafkaStorageError);
          return;
        }
        pr.low_watermark = partition->log().log_start_offset();
      },
      [r, resp] { Respond(*r, *resp); });
}

}  // namespace fjord::server
