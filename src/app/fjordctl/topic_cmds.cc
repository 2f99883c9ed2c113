// fjordctl topic create | list | describe | alter-config | add-partitions | delete
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "context.h"
#include "fjord/protocol/messages/create_partitions_request.h"
#include "fjord/protocol/messages/create_partitions_response.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/delete_topics_request.h"
#include "fjord/protocol/messages/delete_topics_response.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;

absl::StatusOr<std::pair<std::string, std::string>> SplitSetting(const std::string& kv) {
  std::pair<std::string, std::string> out = absl::StrSplit(kv, absl::MaxSplits('=', 1));
  if (out.first.empty() || kv.find('=') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", kv, "' is not key=value"));
  }
  return out;
}

namespace {

struct CreateArgs {
  std::string name;
  int32_t partitions = -1;
  int16_t replication = -1;
  std::vector<std::string> configs;
  bool validate_only = false;
};

absl::Status Create(Context& ctx, const CreateArgs& a) {
  protocol::CreateTopicsRequest req;
  req.timeout_ms = static_cast<int32_t>(ctx.options.request_timeout.count());
  req.validate_only = a.validate_only;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = a.name;
  t.num_partitions = a.partitions;
  t.replication_factor = a.replication;
  for (const std::string& kv : a.configs) {
    absl::StatusOr<std::pair<std::string, std::string>> s = SplitSetting(kv);
    if (!s.ok()) return s.status();
    protocol::CreateTopicsRequest::CreatableTopicConfig c;
    c.name = s->first;
    c.value = s->second;
    t.configs.push_back(c);
  }
  req.topics.push_back(t);
  // The broker's defaults (-1) need CreateTopics v4+.
  const int16_t min_version = a.partitions < 0 || a.replication < 0 ? 4 : 0;
  auto resp = ctx.client().Call<protocol::CreateTopicsResponse>(
      Target::Controller(), req,
      [](const protocol::CreateTopicsResponse& r) {
        return r.topics.empty() ? protocol::ErrorCode::kNone
                                : static_cast<protocol::ErrorCode>(r.topics[0].error_code);
      },
      protocol::CreateTopicsRequest::kMaxVersion, min_version);
  if (!resp.ok()) return resp.status();
  if (resp->topics.size() != 1) return absl::DataLossError("CreateTopics answered nothing");
  const auto& r = resp->topics[0];
  if (absl::Status s = KafkaError(r.error_code, r.error_message, "topic " + a.name); !s.ok()) {
    return s;
  }
  ctx.Done(
      absl::StrCat(a.validate_only ? "would create" : "created", " topic ", a.name, " (",
                   r.num_partitions, " partitions, replication factor ", r.replication_factor, ")"),
      Json::MakeObject()
          .Set("topic", a.name)
          .Set("partitions", r.num_partitions)
          .Set("replication_factor", static_cast<int>(r.replication_factor))
          .Set("validate_only", a.validate_only));
  return absl::OkStatus();
}

absl::Status List(Context& ctx, bool internal) {
  absl::StatusOr<client::ClusterInfo> c = ctx.client().Metadata();
  if (!c.ok()) return c.status();
  Table t({"name", "partitions", "replicas", "internal"});
  Json topics = Json::MakeArray();
  for (const auto& [name, topic] : c->topics) {
    if (topic.internal && !internal) continue;
    const size_t rf = topic.partitions.empty() ? 0 : topic.partitions[0].replicas.size();
    t.Row({name, std::to_string(topic.partitions.size()), std::to_string(rf),
           topic.internal ? "yes" : "no"});
    topics.Push(Json::MakeObject()
                    .Set("name", name)
                    .Set("partitions", static_cast<int>(topic.partitions.size()))
                    .Set("replication_factor", static_cast<int>(rf))
                    .Set("internal", topic.internal));
  }
  ctx.Print(t, topics);
  return absl::OkStatus();
}

absl::Status Describe(Context& ctx, const std::string& name, bool all_configs) {
  absl::StatusOr<client::TopicInfo> topic = DescribeTopic(ctx, name);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> ids;
  for (const auto& p : topic->partitions) ids.push_back(p.partition);
  auto start = ListOffsets(ctx, name, ids, kEarliest);
  if (!start.ok()) return start.status();
  auto end = ListOffsets(ctx, name, ids, kLatest);
  if (!end.ok()) return end.status();
  auto configs = DescribeConfigs(ctx, 2, name);
  if (!configs.ok()) return configs.status();

  Table parts({"partition", "leader", "epoch", "replicas", "isr", "log-start", "high-watermark"});
  Json jparts = Json::MakeArray();
  for (const auto& p : topic->partitions) {
    const int64_t s = (*start)[p.partition].offset, e = (*end)[p.partition].offset;
    parts.Row({std::to_string(p.partition), std::to_string(p.leader),
               std::to_string(p.leader_epoch), JoinInts(p.replicas), JoinInts(p.isr),
               std::to_string(s), std::to_string(e)});
    Json replicas = Json::MakeArray(), isr = Json::MakeArray();
    for (int32_t r : p.replicas) replicas.Push(r);
    for (int32_t r : p.isr) isr.Push(r);
    jparts.Push(Json::MakeObject()
                    .Set("partition", p.partition)
                    .Set("leader", p.leader)
                    .Set("leader_epoch", p.leader_epoch)
                    .Set("replicas", replicas)
                    .Set("isr", isr)
                    .Set("log_start_offset", s)
                    .Set("high_watermark", e));
  }
  Table conf({"config", "value", "source"});
  Json jconf = Json::MakeArray();
  for (const ConfigEntry& c : *configs) {
    if (c.is_default && !all_configs) continue;
    const std::string value = c.sensitive ? "(sensitive)" : c.value.value_or("(null)");
    conf.Row({c.name, value, c.source});
    jconf.Push(Json::MakeObject()
                   .Set("name", c.name)
                   .Set("value", c.sensitive || !c.value ? Json() : Json(*c.value))
                   .Set("source", c.source));
  }
  Json j = Json::MakeObject();
  j.Set("name", name)
      .Set("internal", topic->internal)
      .Set("partitions", jparts)
      .Set("configs", jconf);
  if (ctx.format == Format::kJson) return ctx.Print(parts, j), absl::OkStatus();
  std::printf("topic: %s  partitions: %zu%s\n\n", name.c_str(), topic->partitions.size(),
              topic->internal ? "  (internal)" : "");
  ctx.Print(parts, j);
  std::printf("\n%s\n",
              all_configs ? "configs:" : "configs set on the topic (--all for every one):");
  if (!conf.empty()) ctx.Print(conf, j);
  return absl::OkStatus();
}

absl::Status AddPartitions(Context& ctx, const std::string& name, int32_t count) {
  protocol::CreatePartitionsRequest req;
  req.timeout_ms = static_cast<int32_t>(ctx.options.request_timeout.count());
  protocol::CreatePartitionsRequest::CreatePartitionsTopic t;
  t.name = name;
  t.count = count;
  t.assignments.reset();
  req.topics.push_back(t);
  auto resp = ctx.client().Call<protocol::CreatePartitionsResponse>(Target::Controller(), req);
  if (!resp.ok()) return resp.status();
  if (resp->results.size() != 1) return absl::DataLossError("CreatePartitions answered nothing");
  const auto& r = resp->results[0];
  if (absl::Status s = KafkaError(r.error_code, r.error_message, "topic " + name); !s.ok()) {
    return s;
  }
  ctx.Done(absl::StrCat("topic ", name, " now has ", count, " partitions"),
           Json::MakeObject().Set("topic", name).Set("partitions", count));
  return absl::OkStatus();
}

absl::Status Delete(Context& ctx, const std::vector<std::string>& names) {
  protocol::DeleteTopicsRequest req;
  req.timeout_ms = static_cast<int32_t>(ctx.options.request_timeout.count());
  req.topic_names = names;  // v0-5
  for (const std::string& n : names) {
    protocol::DeleteTopicsRequest::DeleteTopicState s;
    s.name = n;
    req.topics.push_back(s);  // v6+
  }
  auto resp = ctx.client().Call<protocol::DeleteTopicsResponse>(Target::Controller(), req);
  if (!resp.ok()) return resp.status();
  Json deleted = Json::MakeArray();
  std::string text;
  for (const auto& r : resp->responses) {
    const std::string n = r.name.value_or("?");
    if (absl::Status s = KafkaError(r.error_code, r.error_message, "topic " + n); !s.ok()) {
      return s;
    }
    deleted.Push(n);
    absl::StrAppend(&text, text.empty() ? "" : "\n", "deleted topic ", n);
  }
  ctx.Done(text, Json::MakeObject().Set("deleted", deleted));
  return absl::OkStatus();
}

}  // namespace

void AddTopicCommands(CLI::App& app, Context& ctx) {
  CLI::App* topic = app.add_subcommand("topic", "create, list, describe, change and delete topics");
  topic->require_subcommand(1);

  auto create_args = std::make_shared<CreateArgs>();
  CLI::App* create = topic->add_subcommand(
      "create",
      "create a topic\n  e.g. fjordctl topic create orders -p 6 -c retention.ms=86400000");
  create->add_option("name", create_args->name, "the topic")->required();
  create->add_option("--partitions,-p", create_args->partitions,
                     "partitions (default: the broker's num.partitions)");
  create->add_option("--replication-factor,-r", create_args->replication,
                     "replicas per partition (default: default.replication.factor)");
  create->add_option("--config,-c", create_args->configs, "a topic config key=value (repeatable)");
  create->add_flag("--dry-run", create_args->validate_only, "validate only, create nothing");
  OnRun(create, ctx, [&ctx, create_args] { return Create(ctx, *create_args); });

  auto internal = std::make_shared<bool>(false);
  CLI::App* list = topic->add_subcommand("list", "list topics\n  e.g. fjordctl topic list");
  list->add_flag("--internal", *internal, "include internal topics (__consumer_offsets, ...)");
  OnRun(list, ctx, [&ctx, internal] { return List(ctx, *internal); });

  auto name = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  CLI::App* describe = topic->add_subcommand(
      "describe",
      "partitions (leader, replicas, ISR, offsets) and configs with their sources\n"
      "  e.g. fjordctl topic describe orders --all");
  describe->add_option("name", *name, "the topic")->required();
  describe->add_flag("--all", *all, "every config, defaults included");
  OnRun(describe, ctx, [&ctx, name, all] { return Describe(ctx, *name, *all); });

  auto set = std::make_shared<std::vector<std::string>>();
  auto del = std::make_shared<std::vector<std::string>>();
  CLI::App* alter = topic->add_subcommand(
      "alter-config",
      "set or remove topic configs\n  e.g. fjordctl topic alter-config orders --set "
      "retention.ms=3600000 --delete cleanup.policy");
  alter->add_option("name", *name, "the topic")->required();
  alter->add_option("--set", *set, "key=value (repeatable)");
  alter->add_option("--delete", *del, "a key to reset to its default (repeatable)");
  OnRun(alter, ctx, [&ctx, name, set, del] { return AlterConfigs(ctx, 2, *name, *set, *del); });

  auto count = std::make_shared<int32_t>(0);
  CLI::App* add = topic->add_subcommand("add-partitions",
                                        "grow a topic to --count partitions\n  e.g. fjordctl topic "
                                        "add-partitions orders --count 12");
  add->add_option("name", *name, "the topic")->required();
  add->add_option("--count", *count, "the new total number of partitions")->required();
  OnRun(add, ctx, [&ctx, name, count] { return AddPartitions(ctx, *name, *count); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* remove =
      topic->add_subcommand("delete", "delete topics\n  e.g. fjordctl topic delete orders");
  remove->add_option("names", *names, "the topics")->required();
  OnRun(remove, ctx, [&ctx, names] { return Delete(ctx, *names); });
}

}  // namespace fjord::ctl
