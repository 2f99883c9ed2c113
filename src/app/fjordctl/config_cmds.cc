// fjordctl config describe | set | delete (brokers and topics)
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "context.h"
#include "fjord/protocol/messages/incremental_alter_configs_request.h"
#include "fjord/protocol/messages/incremental_alter_configs_response.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;

absl::Status AlterConfigs(Context& ctx, int8_t resource_type, const std::string& name,
                          const std::vector<std::string>& set,
                          const std::vector<std::string>& del) {
  if (set.empty() && del.empty()) {
    return absl::InvalidArgumentError("nothing to change: give --set key=value or --delete key");
  }
  protocol::IncrementalAlterConfigsRequest req;
  protocol::IncrementalAlterConfigsRequest::AlterConfigsResource r;
  r.resource_type = resource_type;
  r.resource_name = name;
  std::vector<std::string> changed;
  for (const std::string& kv : set) {
    absl::StatusOr<std::pair<std::string, std::string>> s = SplitSetting(kv);
    if (!s.ok()) return s.status();
    protocol::IncrementalAlterConfigsRequest::AlterableConfig c;
    c.name = s->first;
    c.config_operation = 0;  // SET
    c.value = s->second;
    r.configs.push_back(c);
    changed.push_back(kv);
  }
  for (const std::string& key : del) {
    protocol::IncrementalAlterConfigsRequest::AlterableConfig c;
    c.name = key;
    c.config_operation = 1;  // DELETE
    c.value.reset();
    r.configs.push_back(c);
    changed.push_back(key + " (default)");
  }
  req.resources.push_back(r);
  int32_t broker = -1;
  const Target target = resource_type == 4 && absl::SimpleAtoi(name, &broker)
                            ? Target::Broker(broker)
                            : Target::Controller();
  auto resp = ctx.client().Call<protocol::IncrementalAlterConfigsResponse>(target, req);
  if (!resp.ok()) return resp.status();
  if (resp->responses.size() != 1) {
    return absl::DataLossError("IncrementalAlterConfigs answered nothing");
  }
  const auto& res = resp->responses[0];
  const std::string what = (resource_type == 2 ? "topic " : "broker ") + name;
  if (absl::Status s = KafkaError(res.error_code, res.error_message, what); !s.ok()) return s;
  Json j = Json::MakeObject();
  Json setj = Json::MakeArray(), delj = Json::MakeArray();
  for (const std::string& kv : set) setj.Push(kv);
  for (const std::string& k : del) delj.Push(k);
  j.Set("resource", what).Set("set", setj).Set("deleted", delj);
  ctx.Done(absl::StrCat("updated ", what, ": ", absl::StrJoin(changed, ", ")), j);
  return absl::OkStatus();
}

namespace {

struct Resource {
  std::string topic;
  int32_t broker = -1;
};

absl::StatusOr<std::pair<int8_t, std::string>> Pick(const Resource& r) {
  if (!r.topic.empty() && r.broker >= 0) {
    return absl::InvalidArgumentError("give either --topic or --broker, not both");
  }
  if (!r.topic.empty()) return std::make_pair(int8_t{2}, r.topic);
  if (r.broker >= 0) return std::make_pair(int8_t{4}, std::to_string(r.broker));
  return absl::InvalidArgumentError("say which: --topic NAME or --broker ID");
}

absl::Status Describe(Context& ctx, const Resource& r, bool changed_only) {
  auto which = Pick(r);
  if (!which.ok()) return which.status();
  auto configs = DescribeConfigs(ctx, which->first, which->second);
  if (!configs.ok()) return configs.status();
  Table t({"config", "value", "source", "read-only"});
  Json j = Json::MakeArray();
  for (const ConfigEntry& c : *configs) {
    if (changed_only && c.is_default) continue;
    const std::string value = c.sensitive ? "(sensitive)" : c.value.value_or("(null)");
    t.Row({c.name, value, c.source, c.read_only ? "yes" : "no"});
    j.Push(Json::MakeObject()
               .Set("name", c.name)
               .Set("value", c.sensitive || !c.value ? Json() : Json(*c.value))
               .Set("source", c.source)
               .Set("read_only", c.read_only)
               .Set("sensitive", c.sensitive));
  }
  ctx.Print(t, j);
  return absl::OkStatus();
}

}  // namespace

void AddConfigCommands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand("config", "describe and change broker and topic configs");
  config->require_subcommand(1);
  auto r = std::make_shared<Resource>();
  auto add_resource = [r](CLI::App* c) {
    c->add_option("--topic,-t", r->topic, "a topic");
    c->add_option("--broker", r->broker, "a broker id");
  };

  auto changed = std::make_shared<bool>(false);
  CLI::App* describe = config->add_subcommand(
      "describe",
      "every config with its value and source\n  e.g. fjordctl config describe "
      "--broker 1 --changed");
  add_resource(describe);
  describe->add_flag("--changed", *changed, "only configs not at their default");
  OnRun(describe, ctx, [&ctx, r, changed] { return Describe(ctx, *r, *changed); });

  auto set = std::make_shared<std::vector<std::string>>();
  CLI::App* set_cmd = config->add_subcommand(
      "set", "set configs\n  e.g. fjordctl config set --topic orders retention.ms=3600000");
  add_resource(set_cmd);
  set_cmd->add_option("settings", *set, "key=value ...")->required();
  OnRun(set_cmd, ctx, [&ctx, r, set]() -> absl::Status {
    auto which = Pick(*r);
    if (!which.ok()) return which.status();
    return AlterConfigs(ctx, which->first, which->second, *set, {});
  });

  auto keys = std::make_shared<std::vector<std::string>>();
  CLI::App* del = config->add_subcommand(
      "delete",
      "return configs to their defaults\n  e.g. fjordctl config delete --topic orders "
      "retention.ms");
  add_resource(del);
  del->add_option("keys", *keys, "config names")->required();
  OnRun(del, ctx, [&ctx, r, keys]() -> absl::Status {
    auto which = Pick(*r);
    if (!which.ok()) return which.status();
    return AlterConfigs(ctx, which->first, which->second, {}, *keys);
  });
}

}  // namespace fjord::ctl
