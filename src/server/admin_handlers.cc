// Admin APIs. Topic and config changes go to the controller (they are metadata records);
// DescribeConfigs and DescribeLogDirs answer from the image, the config registry and the
// LogManager.

#include <sys/statvfs.h>

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/config/topic_config.h"
#include "fjord/protocol/messages/alter_configs_request.h"
#include "fjord/protocol/messages/alter_configs_response.h"
#include "fjord/protocol/messages/create_partitions_request.h"
#include "fjord/protocol/messages/create_partitions_response.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/delete_topics_request.h"
#include "fjord/protocol/messages/delete_topics_response.h"
#include "fjord/protocol/messages/describe_configs_request.h"
#include "fjord/protocol/messages/describe_configs_response.h"
#include "fjord/protocol/messages/describe_log_dirs_request.h"
#include "fjord/protocol/messages/describe_log_dirs_response.h"
#include "fjord/protocol/messages/incremental_alter_configs_request.h"
#include "fjord/protocol/messages/incremental_alter_configs_response.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

// Forwards a decoded admin request to the controller and answers with its response.
template <typename Req, typename Resp>
void ForwardToController(Broker& b, RequestPtr r,
                         void (controller::QuorumController::*command)(Req, int16_t,
                                                                       std::function<void(Resp)>)) {
  Req req;
  if (!DecodeBody(*r, &req)) return;
  const int16_t v = r->version;
  (b.s.controller->*command)(std::move(req), v, [r](Resp resp) { Respond(*r, resp); });
}

constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;
constexpr int8_t kBrokerLoggerResource = 8;

}  // namespace

void HandleCreateTopics(Broker& b, RequestPtr r) {
  ForwardToController(b, std::move(r), &controller::QuorumController::CreateTopics);
}

void HandleDeleteTopics(Broker& b, RequestPtr r) {
  ForwardToController(b, std::move(r), &controller::QuorumController::DeleteTopics);
}

void HandleCreatePartitions(Broker& b, RequestPtr r) {
  ForwardToController(b, std::move(r), &controller::QuorumController::CreatePartitions);
}

void HandleAlterConfigs(Broker& b, RequestPtr r) {
  ForwardToController(b, std::move(r), &controller::QuorumController::AlterConfigs);
}

void HandleIncrementalAlterConfigs(Broker& b, RequestPtr r) {
  ForwardToController(b, std::move(r), &controller::QuorumController::IncrementalAlterConfigs);
}

void HandleDescribeConfigs(Broker& b, RequestPtr r) {
  protocol::DescribeConfigsRequest req;
  if (!DecodeBody(*r, &req)) return;
  const int16_t v = r->version;
  auto image = b.image();
  protocol::DescribeConfigsResponse resp;
  for (const auto& res : req.resources) {
    protocol::DescribeConfigsResponse::DescribeConfigsResult result;
    result.resource_type = res.resource_type;
    result.resource_name = res.resource_name;
    result.error_message = std::nullopt;
    std::vector<config::ConfigEntry> entries;
    if (res.resource_type == kTopicResource) {
      if (image->TopicByName(res.resource_name) == nullptr) {
        result.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        result.error_message = absl::StrCat("Topic ", res.resource_name, " does not exist");
        resp.results.push_back(std::move(result));
        continue;
      }
      entries = config::DescribeTopicConfigs(*b.s.config, image->TopicConfigs(res.resource_name));
    } else if (res.resource_type == kBrokerResource) {
      if (!res.resource_name.empty() && res.resource_name != std::to_string(b.s.node_id.value)) {
        result.error_code = Code(ErrorCode::kInvalidRequest);
        result.error_message = absl::StrCat("Unexpected broker id, expected ", b.s.node_id.value,
                                            " or empty string, but received ", res.resource_name);
        resp.results.push_back(std::move(result));
        continue;
      }
      entries = config::DescribeBrokerConfigs(*b.s.config);
    } else {
      result.error_code = Code(ErrorCode::kInvalidRequest);
      result.error_message = res.resource_type == kBrokerLoggerResource
                                 ? "broker logger configs are not supported yet"
                                 : absl::StrCat("unsupported resource type ", res.resource_type);
      resp.results.push_back(std::move(result));
      continue;
    }
    for (const config::ConfigEntry& e : entries) {
      if (res.configuration_keys.has_value() &&
          std::find(res.configuration_keys->begin(), res.configuration_keys->end(), e.name) ==
              res.configuration_keys->end()) {
        continue;
      }
      protocol::DescribeConfigsResponse::DescribeConfigsResourceResult c;
      c.name = e.name;
      c.value = e.sensitive ? std::nullopt : e.value;
      c.read_only = e.read_only;
      c.is_default = e.source == config::ConfigSource::kDefaultConfig;
      c.config_source = static_cast<int8_t>(e.source);
      c.is_sensitive = e.sensitive;
      c.config_type = static_cast<int8_t>(e.type);
      c.documentation =
          req.include_documentation ? std::optional<std::string>(e.documentation) : std::nullopt;
      if (req.include_synonyms && v >= 1) {
        for (const config::ConfigSynonym& s : e.synonyms) {
          protocol::DescribeConfigsResponse::DescribeConfigsSynonym syn;
          syn.name = s.name;
          syn.value = e.sensitive ? std::nullopt : s.value;
          syn.source = static_cast<int8_t>(s.source);
          c.synonyms.push_back(std::move(syn));
        }
      }
      result.configs.push_back(std::move(c));
    }
    resp.results.push_back(std::move(result));
  }
  Respond(*r, resp);
}

void HandleDescribeLogDirs(Broker& b, RequestPtr r) {
  protocol::DescribeLogDirsRequest req;
  if (!DecodeBody(*r, &req)) return;
  storage::LogManager& logs = b.s.replicas->log_manager();
  protocol::DescribeLogDirsResponse resp;
  std::vector<storage::TopicPartition> partitions = logs.Partitions();
  for (const std::string& dir : logs.DataDirs()) {
    protocol::DescribeLogDirsResponse::DescribeLogDirsResult result;
    result.log_dir = dir;
    struct statvfs st;
    if (::statvfs(dir.c_str(), &st) == 0) {
      result.total_bytes = static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
      result.usable_bytes = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
    }
    std::map<std::string, protocol::DescribeLogDirsResponse::DescribeLogDirsTopic> topics;
    for (const storage::TopicPartition& tp : partitions) {
      if (logs.DataDirOf(tp) != dir) continue;
      if (req.topics.has_value()) {
        bool wanted = false;
        for (const auto& t : *req.topics) {
          if (t.topic != tp.topic) continue;
          wanted = std::find(t.partitions.begin(), t.partitions.end(), tp.partition) !=
                   t.partitions.end();
        }
        if (!wanted) continue;
      }
      std::shared_ptr<storage::Log> log = logs.GetLog(tp);
      if (log == nullptr) continue;
      auto& topic = topics[tp.topic];
      topic.name = tp.topic;
      protocol::DescribeLogDirsResponse::DescribeLogDirsPartition p;
      p.partition_index = tp.partition;
      p.partition_size = static_cast<int64_t>(log->size_bytes());
      p.offset_lag = 0;  // no future (moving) replicas
      topic.partitions.push_back(std::move(p));
    }
    for (auto& [name, topic] : topics) result.topics.push_back(std::move(topic));
    resp.results.push_back(std::move(result));
  }
  Respond(*r, resp);
}

}  // namespace fjord::server
