// fjordctl offsets (ListOffsets by time), records delete (DeleteRecords)
#include "absl/strings/str_cat.h"
#include "context.h"
#include "fjord/protocol/messages/delete_records_request.h"
#include "fjord/protocol/messages/delete_records_response.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;

namespace {

absl::Status Offsets(Context& ctx, const std::string& topic, std::vector<int32_t> partitions,
                     const std::string& time) {
  absl::StatusOr<int64_t> ts = ParseTime(time);
  if (!ts.ok()) return ts.status();
  if (partitions.empty()) {
    auto t = DescribeTopic(ctx, topic);
    if (!t.ok()) return t.status();
    for (const auto& p : t->partitions) partitions.push_back(p.partition);
  }
  auto offsets = ListOffsets(ctx, topic, partitions, *ts);
  if (!offsets.ok()) return offsets.status();
  Table t({"topic", "partition", "offset", "timestamp"});
  Json j = Json::MakeArray();
  for (const auto& [p, at] : *offsets) {
    t.Row({topic, std::to_string(p), at.offset < 0 ? "-" : std::to_string(at.offset),
           at.timestamp < 0 ? "-" : std::to_string(at.timestamp)});
    j.Push(Json::MakeObject()
               .Set("topic", topic)
               .Set("partition", p)
               .Set("offset", at.offset < 0 ? Json() : Json(at.offset))
               .Set("timestamp", at.timestamp < 0 ? Json() : Json(at.timestamp)));
  }
  ctx.Print(t, j);
  return absl::OkStatus();
}

absl::Status DeleteRecords(Context& ctx, const std::string& topic, int32_t partition,
                           int64_t before) {
  protocol::DeleteRecordsRequest req;
  req.timeout_ms = static_cast<int32_t>(ctx.options.request_timeout.count());
  protocol::DeleteRecordsRequest::DeleteRecordsTopic t;
  t.name = topic;
  protocol::DeleteRecordsRequest::DeleteRecordsPartition p;
  p.partition_index = PartitionId(partition);
  p.offset = Offset(before);
  t.partitions.push_back(p);
  req.topics.push_back(t);
  auto resp = ctx.client().Call<protocol::DeleteRecordsResponse>(
      Target::Leader(topic, partition), req, PartitionRetry<protocol::DeleteRecordsResponse>());
  if (!resp.ok()) return resp.status();
  if (resp->topics.size() != 1 || resp->topics[0].partitions.size() != 1) {
    return absl::DataLossError("DeleteRecords answered for other partitions");
  }
  const auto& r = resp->topics[0].partitions[0];
  if (absl::Status s = KafkaError(r.error_code, std::nullopt, absl::StrCat(topic, "-", partition));
      !s.ok()) {
    return s;
  }
  ctx.Done(absl::StrCat(topic, "-", partition, ": records before offset ", r.low_watermark.value,
                        " deleted"),
           Json::MakeObject()
               .Set("topic", topic)
               .Set("partition", partition)
               .Set("low_watermark", r.low_watermark.value));
  return absl::OkStatus();
}

}  // namespace

void AddRecordCommands(CLI::App& app, Context& ctx) {
  auto topic = std::make_shared<std::string>();
  auto partitions = std::make_shared<std::vector<int32_t>>();
  auto time = std::make_shared<std::string>("latest");
  CLI::App* offsets =
      app.add_subcommand("offsets",
                         "offsets by time (ListOffsets)\n  e.g. fjordctl offsets orders --time "
                         "2024-05-01T00:00:00Z");
  offsets->add_option("topic", *topic, "the topic")->required();
  offsets->add_option("--partition,-p", *partitions, "only these partitions (repeatable)");
  offsets->add_option("--time", *time,
                      "earliest, latest (default), max, ms since the epoch, or ISO-8601 UTC");
  OnRun(offsets, ctx,
        [&ctx, topic, partitions, time] { return Offsets(ctx, *topic, *partitions, *time); });

  CLI::App* records = app.add_subcommand("records", "records already in a partition");
  records->require_subcommand(1);
  auto partition = std::make_shared<int32_t>(0);
  auto before = std::make_shared<int64_t>(0);
  CLI::App* del =
      records->add_subcommand("delete",
                              "delete the records before an offset (DeleteRecords)\n"
                              "  e.g. fjordctl records delete orders -p 0 --before 1000");
  del->add_option("topic", *topic, "the topic")->required();
  del->add_option("--partition,-p", *partition, "the partition (default 0)");
  del->add_option("--before", *before, "the new log start offset (-1: the high watermark)")
      ->required();
  OnRun(del, ctx, [&ctx, topic, partition, before] {
    return DeleteRecords(ctx, *topic, *partition, *before);
  });
}

}  // namespace fjord::ctl
