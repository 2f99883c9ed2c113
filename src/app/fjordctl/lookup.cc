#include "lookup.h"

#include <chrono>
#include <ctime>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fjord/protocol/messages/describe_configs_request.h"
#include "fjord/protocol/messages/describe_configs_response.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"

namespace fjord::ctl {

using client::Target;
using protocol::ErrorCode;

absl::StatusOr<std::map<int32_t, OffsetAt>> ListOffsets(Context& ctx, const std::string& topic,
                                                        const std::vector<int32_t>& partitions,
                                                        int64_t timestamp) {
  std::map<int32_t, OffsetAt> out;
  for (int32_t p : partitions) {
    protocol::ListOffsetsRequest req;
    req.replica_id = NodeId(-1);
    protocol::ListOffsetsRequest::ListOffsetsTopic t;
    t.name = topic;
    protocol::ListOffsetsRequest::ListOffsetsPartition lp;
    lp.partition_index = PartitionId(p);
    lp.timestamp = timestamp;
    t.partitions.push_back(lp);
    req.topics.push_back(t);
    auto resp = ctx.client().Call<protocol::ListOffsetsResponse>(
        Target::Leader(topic, p), req, PartitionRetry<protocol::ListOffsetsResponse>());
    if (!resp.ok()) return resp.status();
    if (resp->topics.size() != 1 || resp->topics[0].partitions.size() != 1) {
      return absl::DataLossError("ListOffsets answered for other partitions");
    }
    const auto& rp = resp->topics[0].partitions[0];
    if (absl::Status s = KafkaError(rp.error_code, std::nullopt, absl::StrCat(topic, "-", p));
        !s.ok()) {
      return s;
    }
    out[p] = OffsetAt{rp.offset.value, rp.timestamp};
  }
  return out;
}

absl::StatusOr<int64_t> ParseTime(const std::string& text) {
  if (text == "earliest") return kEarliest;
  if (text == "latest") return kLatest;
  if (text == "max") return kMaxTimestamp;
  int64_t ms = 0;
  if (absl::SimpleAtoi(text, &ms) && ms >= 0) return ms;
  std::tm tm{};
  const char* formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ",
                           "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
  for (const char* f : formats) {
    tm = {};
    const char* end = ::strptime(text.c_str(), f, &tm);
    if (end != nullptr && *end == '\0') return static_cast<int64_t>(::timegm(&tm)) * 1000;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text,
                   "' is not a time: use earliest, latest, max, milliseconds since the epoch or "
                   "2024-05-01T12:00:00Z"));
}

namespace {

std::string SourceName(int8_t s) {
  switch (s) {
    case 1:
      return "DYNAMIC_TOPIC_CONFIG";
    case 2:
      return "DYNAMIC_BROKER_CONFIG";
    case 3:
      return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
      return "STATIC_BROKER_CONFIG";
    case 5:
      return "DEFAULT_CONFIG";
    case 6:
      return "DYNAMIC_BROKER_LOGGER_CONFIG";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> DescribeConfigs(Context& ctx, int8_t resource_type,
                                                         const std::string& name) {
  protocol::DescribeConfigsRequest req;
  protocol::DescribeConfigsRequest::DescribeConfigsResource r;
  r.resource_type = resource_type;
  r.resource_name = name;
  r.configuration_keys.reset();  // all
  req.resources.push_back(r);
  int32_t broker = -1;
  const Target target = resource_type == 4 && absl::SimpleAtoi(name, &broker)
                            ? Target::Broker(broker)
                            : Target::Any();
  auto resp = ctx.client().Call<protocol::DescribeConfigsResponse>(target, req);
  if (!resp.ok()) return resp.status();
  if (resp->results.size() != 1) return absl::DataLossError("DescribeConfigs answered nothing");
  const auto& res = resp->results[0];
  if (absl::Status s = KafkaError(res.error_code, res.error_message, name); !s.ok()) return s;
  std::vector<ConfigEntry> out;
  for (const auto& c : res.configs) {
    out.push_back(ConfigEntry{c.name, c.value, SourceName(c.config_source), c.read_only,
                              c.is_sensitive, c.config_source == 5});
  }
  std::sort(out.begin(), out.end(),
            [](const ConfigEntry& a, const ConfigEntry& b) { return a.name < b.name; });
  return out;
}

absl::StatusOr<client::TopicInfo> DescribeTopic(Context& ctx, const std::string& topic,
                                                bool auto_create) {
  const auto deadline = std::chrono::steady_clock::now() + ctx.options.request_timeout;
  for (;;) {
    absl::StatusOr<client::ClusterInfo> c = ctx.client().Metadata({topic}, true, auto_create);
    if (!c.ok()) return c.status();
    auto it = c->topics.find(topic);
    ErrorCode e = it == c->topics.end() ? ErrorCode::kUnknownTopicOrPartition : it->second.error;
    if (e == ErrorCode::kNone && auto_create) {
      for (const auto& p : it->second.partitions) {
        if (p.leader < 0) e = ErrorCode::kLeaderNotAvailable;
      }
    }
    if (e == ErrorCode::kNone) return it->second;
    // A topic just created has no leaders for a moment.
    const bool wait =
        auto_create && (client::IsRoutingError(e) || e == ErrorCode::kUnknownTopicOrPartition);
    if (!wait || std::chrono::steady_clock::now() >= deadline) {
      return KafkaError(static_cast<int16_t>(e), std::nullopt, "topic " + topic);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::StatusOr<protocol::Compression> CompressionOf(const std::string& name) {
  if (name == "none") return protocol::Compression::kNone;
  if (name == "gzip") return protocol::Compression::kGzip;
  if (name == "snappy") return protocol::Compression::kSnappy;
  if (name == "lz4") return protocol::Compression::kLz4;
  if (name == "zstd") return protocol::Compression::kZstd;
  return absl::InvalidArgumentError("compression must be none, gzip, snappy, lz4 or zstd");
}

client::Client::RawCall ProduceCall(const std::string& topic, int32_t partition, int16_t acks,
                                    int32_t timeout_ms, std::vector<uint8_t> batch) {
  struct Owned {
    std::vector<uint8_t> batch;
    protocol::ProduceRequest request;
  };
  auto owned = std::make_shared<Owned>();
  owned->batch = std::move(batch);
  protocol::ProduceRequest& req = owned->request;
  req.acks = acks;
  req.timeout_ms = timeout_ms;
  protocol::ProduceRequest::TopicProduceData td;
  td.name = topic;
  protocol::ProduceRequest::PartitionProduceData pd;
  pd.index = PartitionId(partition);
  pd.records = protocol::RecordsView::Of(owned->batch);
  td.partition_data.push_back(pd);
  req.topic_data.push_back(td);

  client::Client::RawCall call;
  call.key = protocol::ProduceRequest::kApiKey;
  call.min_version = 3;  // record batches (magic v2)
  call.max_version = 9;
  call.encode = [owned](int16_t version, std::vector<uint8_t>* out) {
    protocol::EncodeMessage(owned->request, version, out);
  };
  call.retry = [](int16_t version, std::span<const uint8_t> body) {
    protocol::ProduceResponse r;
    if (!protocol::DecodeMessage(body, version, &r).ok()) return ErrorCode::kNone;
    for (const auto& t : r.responses) {
      for (const auto& pr : t.partition_responses) {
        const auto e = static_cast<ErrorCode>(pr.error_code);
        if (client::IsRoutingError(e)) return e;
      }
    }
    return ErrorCode::kNone;
  };
  call.expects_response = acks != 0;
  return call;
}

absl::StatusOr<int64_t> ProduceOutcome(const client::RawResponse& raw, const std::string& topic,
                                       int32_t partition) {
  protocol::ProduceResponse resp;
  if (absl::Status s = protocol::DecodeMessage(raw.body, raw.version, &resp); !s.ok()) {
    return client::internal::DecodeError(protocol::ProduceResponse::kName, s);
  }
  for (const auto& t : resp.responses) {
    for (const auto& pr : t.partition_responses) {
      if (pr.index.value != partition) continue;
      if (absl::Status s =
              KafkaError(pr.error_code, pr.error_message, absl::StrCat(topic, "-", partition));
          !s.ok()) {
        return s;
      }
      return pr.base_offset.value;
    }
  }
  return absl::DataLossError(absl::StrCat("Produce answered without ", topic, "-", partition));
}

}  // namespace fjord::ctl
