// Produce: route each partition's batch to the partition's loop, append it there, and
// answer in the request's shape (no answer at all for acks=0).

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/base/strings.h"
#include "fjord/controller/topic_names.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
#include "fjord/storage/log_validator.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

struct Item {
  size_t topic;
  size_t partition;
  std::span<uint8_t> records;
};

// A partition named twice is produced once, with the data named last, in the place of
// its first mention (Kafka keeps a map of partition to records): one 8 MB request cannot
// append the same partition 100,000 times. A topic named twice is merged likewise.
void CollapseDuplicates(protocol::ProduceRequest& req) {
  if (req.topic_data.size() == 1 && req.topic_data[0].partition_data.size() <= 1) return;
  absl::flat_hash_map<std::string, size_t> topic_at;
  absl::flat_hash_map<std::pair<size_t, int32_t>, size_t> partition_at;
  std::vector<protocol::ProduceRequest::TopicProduceData> out;
  bool duplicates = false;
  for (auto& td : req.topic_data) {
    auto [t, new_topic] = topic_at.try_emplace(td.name, out.size());
    if (new_topic) {
      out.emplace_back();
      out.back().name = td.name;
      out.back().unknown_tagged_fields = std::move(td.unknown_tagged_fields);
    } else {
      duplicates = true;
    }
    auto& topic = out[t->second];
    for (auto& pd : td.partition_data) {
      auto [at, fresh] =
          partition_at.try_emplace({t->second, pd.index.value}, topic.partition_data.size());
      if (fresh) {
        topic.partition_data.push_back(std::move(pd));
      } else {
        duplicates = true;
        topic.partition_data[at->second] = std::move(pd);
      }
    }
  }
  if (duplicates) req.topic_data = std::move(out);
}

}  // namespace

void HandleProduce(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ProduceRequest>();
  if (!DecodeBody(*r, req.get())) return;
  CollapseDuplicates(*req);
  auto resp = std::make_shared<protocol::ProduceResponse>();
  auto image = b.image();
  std::vector<Item> items;
  std::vector<storage::TopicPartition> tps;
  ErrorCode request_error = ErrorCode::kNone;
  std::string request_message;
  if (req->acks != -1 && req->acks != 0 && req->acks != 1) {
    request_error = ErrorCode::kInvalidRequiredAcks;
  }
  for (size_t t = 0; t < req->topic_data.size(); ++t) {
    const auto& td = req->topic_data[t];
    protocol::ProduceResponse::TopicProduceResponse tr;
    tr.name = td.name;
    const metadata::TopicImage* topic = image->TopicByName(td.name);
    for (size_t p = 0; p < td.partition_data.size(); ++p) {
      const auto& pd = td.partition_data[p];
      protocol::ProduceResponse::PartitionProduceResponse pr;
      pr.index = pd.index;
      pr.base_offset = Offset(-1);
      if (request_error != ErrorCode::kNone) {
        pr.error_code = Code(request_error);
        if (!request_message.empty()) pr.error_message = request_message;
      } else if (topic == nullptr || !topic->HasPartition(pd.index.value)) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
      } else if (controller::IsInternalTopic(td.name)) {
        // Kafka: "Cannot append to internal topic": only the coordinators write there.
        pr.error_code = Code(ErrorCode::kInvalidTopicException);
      } else if (pd.records.is_null || pd.records.bytes.empty()) {
        pr.error_code = Code(ErrorCode::kCorruptMessage);
        pr.error_message = "the produce request carries no record batch for this partition";
      } else {
        // The frame is ours: appends patch base offsets and epochs in place.
        auto bytes = std::span<uint8_t>(const_cast<uint8_t*>(pd.records.bytes.data()),
                                        pd.records.bytes.size());
        items.push_back(Item{t, p, bytes});
        tps.push_back(storage::TopicPartition{td.name, pd.index});
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp->responses.push_back(std::move(tr));
  }
  const int16_t acks = req->acks;
  b.ForEachPartition(
      r->conn.loop, tps,
      [&b, req, resp, items, acks](size_t i, cluster::Partition* partition) {
        // The frame (and so the records) stays alive through `req`'s owner, the request.
        const Item& item = items[i];
        auto& pr = resp->responses[item.topic].partition_responses[item.partition];
        if (partition == nullptr || !partition->IsLeader()) {
          pr.error_code = Code(b.NotServedError(
              storage::TopicPartition{req->topic_data[item.topic].name, pr.index}));
          return;
        }
        if (ErrorCode e = partition->CheckAcks(acks); e != ErrorCode::kNone) {
          pr.error_code = Code(e);
          return;
        }
        absl::StatusOr<storage::LogAppendInfo> info = partition->AppendAsLeader(item.records);
        if (!info.ok()) {
          pr.error_code = Code(storage::AppendErrorCode(storage::AppendErrorOf(info.status())));
          pr.error_message = std::string(info.status().message());
          pr.log_start_offset = partition->log().log_start_offset();
          return;
        }
        pr.base_offset = info->first_offset;
        pr.log_append_time_ms = info->log_append_time;
        pr.log_start_offset = info->log_start_offset;
      },
      [r, req, resp, acks] {
        if (acks == 0) {
          // Kafka: an acks=0 producer learns of a failure only by the connection closing.
          for (const auto& tr : resp->responses) {
            for (const auto& pr : tr.partition_responses) {
              if (pr.error_code != 0) {
                r->done(net::Reply::Close(absl::StrCat(
                    "acks=0 produce to ", tr.name, "-", pr.index.value, " failed: ",
                    Absl(protocol::ErrorName(static_cast<ErrorCode>(pr.error_code))))));
                return;
              }
            }
          }
          r->done(net::Reply::None());
          return;
        }
        Respond(*r, *resp);
      });
}

}  // namespace fjord::server
