// fjordctl transactions list | describe, producers describe
#include "absl/strings/str_cat.h"
#include "context.h"
#include "fjord/protocol/messages/describe_producers_request.h"
#include "fjord/protocol/messages/describe_producers_response.h"
#include "fjord/protocol/messages/describe_transactions_request.h"
#include "fjord/protocol/messages/describe_transactions_response.h"
#include "fjord/protocol/messages/list_transactions_request.h"
#include "fjord/protocol/messages/list_transactions_response.h"

namespace fjord::ctl {

using client::Target;

namespace {

absl::Status List(Context& ctx, const std::vector<std::string>& states) {
  // Every broker coordinates some transactional ids: ask them all.
  absl::StatusOr<client::ClusterInfo> c = ctx.client().Metadata({}, false);
  if (!c.ok()) return c.status();
  protocol::ListTransactionsRequest req;
  req.state_filters = states;
  Table t({"transactional-id", "producer-id", "state", "coordinator"});
  Json j = Json::MakeArray();
  for (const auto& [id, b] : c->brokers) {
    auto resp = ctx.client().Call<protocol::ListTransactionsResponse>(Target::Broker(id), req);
    if (!resp.ok()) return resp.status();
    if (absl::Status s = KafkaError(resp->error_code, std::nullopt, "broker " + std::to_string(id));
        !s.ok()) {
      return s;
    }
    if (!resp->unknown_state_filters.empty()) {
      return absl::InvalidArgumentError("unknown transaction state " +
                                        resp->unknown_state_filters[0] +
                                        " (Empty, Ongoing, PrepareCommit, PrepareAbort, "
                                        "CompleteCommit, CompleteAbort, PrepareEpochFence, Dead)");
    }
    for (const auto& s : resp->transaction_states) {
      t.Row({s.transactional_id, std::to_string(s.producer_id.value), s.transaction_state,
             std::to_string(id)});
      j.Push(Json::MakeObject()
                 .Set("transactional_id", s.transactional_id)
                 .Set("producer_id", s.producer_id.value)
                 .Set("state", s.transaction_state)
                 .Set("coordinator", id));
    }
  }
  ctx.Print(t, j);
  return absl::OkStatus();
}

absl::Status Describe(Context& ctx, const std::string& id) {
  protocol::DescribeTransactionsRequest req;
  req.transactional_ids = {id};
  auto resp = ctx.client().Call<protocol::DescribeTransactionsResponse>(
      Target::Txn(id), req, [](const protocol::DescribeTransactionsResponse& r) {
        return r.transaction_states.empty()
                   ? protocol::ErrorCode::kNone
                   : static_cast<protocol::ErrorCode>(r.transaction_states[0].error_code);
      });
  if (!resp.ok()) return resp.status();
  if (resp->transaction_states.size() != 1) {
    return absl::DataLossError("DescribeTransactions answered nothing");
  }
  const auto& s = resp->transaction_states[0];
  if (absl::Status e = KafkaError(s.error_code, std::nullopt, "transactional id " + id); !e.ok()) {
    return e;
  }
  Table t({"transactional-id", "producer-id", "epoch", "state", "timeout-ms", "start-time-ms",
           "partitions"});
  std::string parts;
  Json jtopics = Json::MakeArray();
  for (const auto& topic : s.topics) {
    Json jp = Json::MakeArray();
    for (PartitionId p : topic.partitions) {
      absl::StrAppend(&parts, parts.empty() ? "" : ",", topic.topic, "-", p.value);
      jp.Push(p.value);
    }
    jtopics.Push(Json::MakeObject().Set("topic", topic.topic).Set("partitions", jp));
  }
  t.Row({s.transactional_id, std::to_string(s.producer_id.value),
         std::to_string(s.producer_epoch.value), s.transaction_state,
         std::to_string(s.transaction_timeout_ms), std::to_string(s.transaction_start_time_ms),
         parts.empty() ? "-" : parts});
  ctx.Print(t, Json::MakeObject()
                   .Set("transactional_id", s.transactional_id)
                   .Set("producer_id", s.producer_id.value)
                   .Set("producer_epoch", static_cast<int>(s.producer_epoch.value))
                   .Set("state", s.transaction_state)
                   .Set("timeout_ms", s.transaction_timeout_ms)
                   .Set("start_time_ms", s.transaction_start_time_ms)
                   .Set("topics", jtopics));
  return absl::OkStatus();
}

absl::Status Producers(Context& ctx, const std::string& topic, int32_t partition) {
  protocol::DescribeProducersRequest req;
  protocol::DescribeProducersRequest::TopicRequest t;
  t.name = topic;
  t.partition_indexes = {PartitionId(partition)};
  req.topics.push_back(t);
  auto resp = ctx.client().Call<protocol::DescribeProducersResponse>(
      Target::Leader(topic, partition), req, PartitionRetry<protocol::DescribeProducersResponse>());
  if (!resp.ok()) return resp.status();
  if (resp->topics.size() != 1 || resp->topics[0].partitions.size() != 1) {
    return absl::DataLossError("DescribeProducers answered for other partitions");
  }
  const auto& p = resp->topics[0].partitions[0];
  if (absl::Status s =
          KafkaError(p.error_code, p.error_message, absl::StrCat(topic, "-", partition));
      !s.ok()) {
    return s;
  }
  Table table({"producer-id", "epoch", "last-sequence", "last-timestamp", "coordinator-epoch",
               "txn-start-offset"});
  Json j = Json::MakeArray();
  for (const auto& s : p.active_producers) {
    table.Row({std::to_string(s.producer_id.value), std::to_string(s.producer_epoch),
               std::to_string(s.last_sequence), std::to_string(s.last_timestamp),
               std::to_string(s.coordinator_epoch), std::to_string(s.current_txn_start_offset)});
    j.Push(Json::MakeObject()
               .Set("producer_id", s.producer_id.value)
               .Set("epoch", s.producer_epoch)
               .Set("last_sequence", s.last_sequence)
               .Set("last_timestamp", s.last_timestamp)
               .Set("coordinator_epoch", s.coordinator_epoch)
               .Set("current_txn_start_offset", s.current_txn_start_offset));
  }
  ctx.Print(table, j);
  return absl::OkStatus();
}

}  // namespace

void AddTxnCommands(CLI::App& app, Context& ctx) {
  CLI::App* txns = app.add_subcommand("transactions", "list and describe transactions");
  txns->require_subcommand(1);
  auto states = std::make_shared<std::vector<std::string>>();
  CLI::App* list = txns->add_subcommand(
      "list",
      "transactional ids on every broker\n  e.g. fjordctl transactions list --state Ongoing");
  list->add_option("--state", *states, "only these states (repeatable)");
  OnRun(list, ctx, [&ctx, states] { return List(ctx, *states); });
  auto id = std::make_shared<std::string>();
  CLI::App* describe = txns->add_subcommand("describe",
                                            "one transactional id: producer, state, partitions\n"
                                            "  e.g. fjordctl transactions describe payments-1");
  describe->add_option("id", *id, "the transactional id")->required();
  OnRun(describe, ctx, [&ctx, id] { return Describe(ctx, *id); });

  CLI::App* producers = app.add_subcommand("producers", "idempotent and transactional producers");
  producers->require_subcommand(1);
  auto topic = std::make_shared<std::string>();
  auto partition = std::make_shared<int32_t>(0);
  CLI::App* pd = producers->add_subcommand(
      "describe",
      "the producers a partition knows\n  e.g. fjordctl producers describe orders -p 0");
  pd->add_option("topic", *topic, "the topic")->required();
  pd->add_option("--partition,-p", *partition, "the partition (default 0)");
  OnRun(pd, ctx, [&ctx, topic, partition] { return Producers(ctx, *topic, *partition); });
}

}  // namespace fjord::ctl
