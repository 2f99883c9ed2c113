// fjordctl group list | describe | delete | delete-offsets | reset-offsets
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "context.h"
#include "fjord/protocol/messages/delete_groups_request.h"
#include "fjord/protocol/messages/delete_groups_response.h"
#include "fjord/protocol/messages/describe_groups_request.h"
#include "fjord/protocol/messages/describe_groups_response.h"
#include "fjord/protocol/messages/list_groups_request.h"
#include "fjord/protocol/messages/list_groups_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/offset_delete_request.h"
#include "fjord/protocol/messages/offset_delete_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;
using protocol::ErrorCode;

namespace {

using TopicPartition = std::pair<std::string, int32_t>;

// The topic-partitions of a consumer-protocol assignment (version, [topic, [partition]],
// user data); empty when it is not one.
std::vector<TopicPartition> DecodeAssignment(const std::vector<uint8_t>& bytes) {
  std::vector<TopicPartition> out;
  if (bytes.size() < 6) return out;
  protocol::Reader r(bytes);
  r.ReadInt16();
  const int32_t topics = r.ReadArrayLength(false, 6);
  for (int32_t i = 0; i < topics && r.ok(); ++i) {
    std::string topic;
    r.ReadString(&topic, false);
    const int32_t n = r.ReadArrayLength(false, 4);
    for (int32_t j = 0; j < n && r.ok(); ++j) out.emplace_back(topic, r.ReadInt32());
  }
  if (!r.ok()) out.clear();
  return out;
}

client::RetryCheck<protocol::DescribeGroupsResponse> GroupRetry() {
  return [](const protocol::DescribeGroupsResponse& r) {
    return r.groups.empty() ? ErrorCode::kNone : static_cast<ErrorCode>(r.groups[0].error_code);
  };
}

absl::StatusOr<protocol::DescribeGroupsResponse::DescribedGroup> DescribeGroup(
    Context& ctx, const std::string& group) {
  protocol::DescribeGroupsRequest req;
  req.groups = {group};
  auto resp =
      ctx.client().Call<protocol::DescribeGroupsResponse>(Target::Group(group), req, GroupRetry());
  if (!resp.ok()) return resp.status();
  if (resp->groups.size() != 1) return absl::DataLossError("DescribeGroups answered nothing");
  const auto& g = resp->groups[0];
  if (absl::Status s = KafkaError(g.error_code, std::nullopt, "group " + group); !s.ok()) return s;
  return g;
}

// The group's committed offsets (OffsetFetch v7: one group, all partitions).
absl::StatusOr<std::map<TopicPartition, int64_t>> Committed(Context& ctx,
                                                            const std::string& group) {
  protocol::OffsetFetchRequest req;
  req.group_id = group;
  req.topics.reset();
  auto resp = ctx.client().Call<protocol::OffsetFetchResponse>(
      Target::Group(group), req,
      [](const protocol::OffsetFetchResponse& r) { return static_cast<ErrorCode>(r.error_code); },
      7, 2);
  if (!resp.ok()) return resp.status();
  if (absl::Status s = KafkaError(resp->error_code, std::nullopt, "group " + group); !s.ok()) {
    return s;
  }
  std::map<TopicPartition, int64_t> out;
  for (const auto& t : resp->topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code == 0 && p.committed_offset.value >= 0) {
        out[{t.name, p.partition_index.value}] = p.committed_offset.value;
      }
    }
  }
  return out;
}

absl::Status List(Context& ctx, const std::vector<std::string>& states) {
  absl::StatusOr<client::ClusterInfo> c = ctx.client().Metadata({}, false);
  if (!c.ok()) return c.status();
  protocol::ListGroupsRequest req;
  req.states_filter = states;
  Table t({"group", "state", "protocol-type", "coordinator"});
  Json j = Json::MakeArray();
  for (const auto& [id, b] : c->brokers) {
    auto resp = ctx.client().Call<protocol::ListGroupsResponse>(Target::Broker(id), req);
    if (!resp.ok()) return resp.status();
    if (absl::Status s = KafkaError(resp->error_code); !s.ok()) return s;
    for (const auto& g : resp->groups) {
      t.Row({g.group_id, g.group_state.empty() ? "-" : g.group_state,
             g.protocol_type.empty() ? "-" : g.protocol_type, std::to_string(id)});
      j.Push(Json::MakeObject()
                 .Set("group", g.group_id)
                 .Set("state", g.group_state)
                 .Set("protocol_type", g.protocol_type)
                 .Set("coordinator", id));
    }
  }
  ctx.Print(t, j);
  return absl::OkStatus();
}

absl::Status Describe(Context& ctx, const std::string& group) {
  auto g = DescribeGroup(ctx, group);
  if (!g.ok()) return g.status();
  auto committed = Committed(ctx, group);
  if (!committed.ok()) return committed.status();
  // Rows: every partition with a committed offset or an owner.
  std::map<TopicPartition, std::string> owner;
  Table members({"member-id", "instance-id", "client-id", "host", "partitions"});
  Json jmembers = Json::MakeArray();
  for (const auto& m : g->members) {
    std::vector<TopicPartition> assigned = g->protocol_type == "consumer"
                                               ? DecodeAssignment(m.member_assignment)
                                               : std::vector<TopicPartition>{};
    std::string parts;
    Json jparts = Json::MakeArray();
    for (const auto& tp : assigned) {
      owner[tp] = m.member_id;
      absl::StrAppend(&parts, parts.empty() ? "" : ",", tp.first, "-", tp.second);
      jparts.Push(absl::StrCat(tp.first, "-", tp.second));
    }
    members.Row({m.member_id, m.group_instance_id.value_or("-"), m.client_id, m.client_host,
                 parts.empty() ? "-" : parts});
    jmembers.Push(
        Json::MakeObject()
            .Set("member_id", m.member_id)
            .Set("group_instance_id", m.group_instance_id ? Json(*m.group_instance_id) : Json())
            .Set("client_id", m.client_id)
            .Set("client_host", m.client_host)
            .Set("assignment", jparts));
  }
  std::set<TopicPartition> rows;
  for (const auto& [tp, off] : *committed) rows.insert(tp);
  for (const auto& [tp, m] : owner) rows.insert(tp);
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& tp : rows) by_topic[tp.first].push_back(tp.second);
  std::map<TopicPartition, int64_t> ends;
  for (const auto& [topic, parts] : by_topic) {
    auto e = ListOffsets(ctx, topic, parts, kLatest);
    if (!e.ok()) return e.status();
    for (const auto& [p, at] : *e) ends[{topic, p}] = at.offset;
  }
  Table offsets({"topic", "partition", "current-offset", "log-end-offset", "lag", "consumer-id"});
  Json joffsets = Json::MakeArray();
  int64_t total_lag = 0;
  for (const auto& tp : rows) {
    auto c = committed->find(tp);
    const int64_t end = ends[tp];
    const bool has = c != committed->end();
    const int64_t lag = has ? std::max<int64_t>(0, end - c->second) : -1;
    if (lag > 0) total_lag += lag;
    auto o = owner.find(tp);
    offsets.Row({tp.first, std::to_string(tp.second), has ? std::to_string(c->second) : "-",
                 std::to_string(end), has ? std::to_string(lag) : "-",
                 o == owner.end() ? "-" : o->second});
    joffsets.Push(Json::MakeObject()
                      .Set("topic", tp.first)
                      .Set("partition", tp.second)
                      .Set("current_offset", has ? Json(c->second) : Json())
                      .Set("log_end_offset", end)
                      .Set("lag", has ? Json(lag) : Json())
                      .Set("consumer_id", o == owner.end() ? Json() : Json(o->second)));
  }
  Json j = Json::MakeObject();
  j.Set("group", group)
      .Set("state", g->group_state)
      .Set("protocol_type", g->protocol_type)
      .Set("protocol", g->protocol_data)
      .Set("members", jmembers)
      .Set("offsets", joffsets)
      .Set("total_lag", total_lag);
  if (ctx.format == Format::kJson) return ctx.Print(offsets, j), absl::OkStatus();
  std::printf("group: %s  state: %s  protocol: %s  members: %zu  total lag: %lld\n\n",
              group.c_str(), g->group_state.c_str(),
              g->protocol_data.empty() ? "-" : g->protocol_data.c_str(), g->members.size(),
              static_cast<long long>(total_lag));
  if (!members.empty()) {
    ctx.Print(members, j);
    std::printf("\n");
  }
  ctx.Print(offsets, j);
  return absl::OkStatus();
}

absl::Status Delete(Context& ctx, const std::vector<std::string>& groups) {
  Json deleted = Json::MakeArray();
  std::string text;
  for (const std::string& group : groups) {
    protocol::DeleteGroupsRequest req;
    req.groups_names = {group};
    auto resp = ctx.client().Call<protocol::DeleteGroupsResponse>(
        Target::Group(group), req, [](const protocol::DeleteGroupsResponse& r) {
          return r.results.empty() ? ErrorCode::kNone
                                   : static_cast<ErrorCode>(r.results[0].error_code);
        });
    if (!resp.ok()) return resp.status();
    if (resp->results.size() != 1) return absl::DataLossError("DeleteGroups answered nothing");
    if (absl::Status s = KafkaError(resp->results[0].error_code, std::nullopt, "group " + group);
        !s.ok()) {
      return s;
    }
    deleted.Push(group);
    absl::StrAppend(&text, text.empty() ? "" : "\n", "deleted group ", group);
  }
  ctx.Done(text, Json::MakeObject().Set("deleted", deleted));
  return absl::OkStatus();
}

absl::Status DeleteOffsets(Context& ctx, const std::string& group, const std::string& topic,
                           std::vector<int32_t> partitions) {
  if (partitions.empty()) {
    auto t = DescribeTopic(ctx, topic);
    if (!t.ok()) return t.status();
    for (const auto& p : t->partitions) partitions.push_back(p.partition);
  }
  protocol::OffsetDeleteRequest req;
  req.group_id = group;
  protocol::OffsetDeleteRequest::OffsetDeleteRequestTopic t;
  t.name = topic;
  for (int32_t p : partitions) {
    protocol::OffsetDeleteRequest::OffsetDeleteRequestPartition rp;
    rp.partition_index = PartitionId(p);
    t.partitions.push_back(rp);
  }
  req.topics.push_back(t);
  auto resp = ctx.client().Call<protocol::OffsetDeleteResponse>(
      Target::Group(group), req,
      [](const protocol::OffsetDeleteResponse& r) { return static_cast<ErrorCode>(r.error_code); });
  if (!resp.ok()) return resp.status();
  if (absl::Status s = KafkaError(resp->error_code, std::nullopt, "group " + group); !s.ok()) {
    return s;
  }
  if (absl::Status s = FirstPartitionError(resp->topics); !s.ok()) return s;
  Json jp = Json::MakeArray();
  for (int32_t p : partitions) jp.Push(p);
  ctx.Done(absl::StrCat("deleted the offsets of group ", group, " for ", partitions.size(),
                        " partition(s) of ", topic),
           Json::MakeObject().Set("group", group).Set("topic", topic).Set("partitions", jp));
  return absl::OkStatus();
}

struct ResetArgs {
  std::string group;
  std::string topic;
  std::vector<int32_t> partitions;
  bool to_earliest = false;
  bool to_latest = false;
  std::optional<int64_t> to_offset;
  std::string to_datetime;
  std::optional<int64_t> shift_by;
  bool execute = false;
};

absl::Status Reset(Context& ctx, const ResetArgs& a) {
  const int specs = a.to_earliest + a.to_latest + a.to_offset.has_value() + !a.to_datetime.empty() +
                    a.shift_by.has_value();
  if (specs != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, "
        "--shift-by N");
  }
  int64_t when = 0;
  if (!a.to_datetime.empty()) {
    absl::StatusOr<int64_t> t = ParseTime(a.to_datetime);
    if (!t.ok()) return t.status();
    when = *t;
  }
  auto g = DescribeGroup(ctx, a.group);
  if (!g.ok()) return g.status();
  if (a.execute && g->group_state != "Empty" && g->group_state != "Dead") {
    return absl::FailedPreconditionError(
        absl::StrCat("group ", a.group, " is ", g->group_state,
                     ": offsets can be reset only while it has no members (stop its consumers)"));
  }
  auto topic = DescribeTopic(ctx, a.topic);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> parts = a.partitions;
  if (parts.empty()) {
    for (const auto& p : topic->partitions) parts.push_back(p.partition);
  }
  auto earliest = ListOffsets(ctx, a.topic, parts, kEarliest);
  if (!earliest.ok()) return earliest.status();
  auto latest = ListOffsets(ctx, a.topic, parts, kLatest);
  if (!latest.ok()) return latest.status();
  auto committed = Committed(ctx, a.group);
  if (!committed.ok()) return committed.status();
  std::map<int32_t, OffsetAt> by_time;
  if (!a.to_datetime.empty()) {
    auto t = ListOffsets(ctx, a.topic, parts, when);
    if (!t.ok()) return t.status();
    by_time = *t;
  }
  Table t({"topic", "partition", "current-offset", "new-offset"});
  Json jrows = Json::MakeArray();
  protocol::OffsetCommitRequest req;
  req.group_id = a.group;
  req.generation_id_or_member_epoch = -1;
  protocol::OffsetCommitRequest::OffsetCommitRequestTopic ct;
  ct.name = a.topic;
  for (int32_t p : parts) {
    const int64_t lo = (*earliest)[p].offset, hi = (*latest)[p].offset;
    auto c = committed->find({a.topic, p});
    const int64_t current = c == committed->end() ? -1 : c->second;
    int64_t target = 0;
    if (a.to_earliest) target = lo;
    if (a.to_latest) target = hi;
    if (a.to_offset) target = *a.to_offset;
    if (!a.to_datetime.empty()) target = by_time[p].offset < 0 ? hi : by_time[p].offset;
    if (a.shift_by) target = (current < 0 ? lo : current) + *a.shift_by;
    target = std::clamp(target, lo, hi);  // as Kafka's tool does
    t.Row({a.topic, std::to_string(p), current < 0 ? "-" : std::to_string(current),
           std::to_string(target)});
    jrows.Push(Json::MakeObject()
                   .Set("topic", a.topic)
                   .Set("partition", p)
                   .Set("current_offset", current < 0 ? Json() : Json(current))
                   .Set("new_offset", target));
    protocol::OffsetCommitRequest::OffsetCommitRequestPartition cp;
    cp.partition_index = PartitionId(p);
    cp.committed_offset = Offset(target);
    ct.partitions.push_back(cp);
  }
  req.topics.push_back(ct);
  if (a.execute) {
    auto resp = ctx.client().Call<protocol::OffsetCommitResponse>(Target::Group(a.group), req);
    if (!resp.ok()) return resp.status();
    if (absl::Status s = FirstPartitionError(resp->topics); !s.ok()) return s;
  }
  Json j = Json::MakeObject();
  j.Set("group", a.group).Set("executed", a.execute).Set("offsets", jrows);
  if (ctx.format == Format::kJson) return ctx.Print(t, j), absl::OkStatus();
  ctx.Print(t, j);
  std::printf("\n%s\n", a.execute ? "offsets reset." : "dry run: nothing changed; add --execute");
  return absl::OkStatus();
}

}  // namespace

void AddGroupCommands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("group", "consumer groups: members, lag, offsets");
  group->require_subcommand(1);
  auto states = std::make_shared<std::vector<std::string>>();
  CLI::App* list =
      group->add_subcommand("list", "groups on every broker\n  e.g. fjordctl group list");
  list->add_option("--state", *states, "only groups in these states (repeatable)");
  OnRun(list, ctx, [&ctx, states] { return List(ctx, *states); });

  auto name = std::make_shared<std::string>();
  CLI::App* describe = group->add_subcommand(
      "describe",
      "members, assignments and per-partition lag\n  e.g. fjordctl group describe "
      "billing");
  describe->add_option("group", *name, "the group")->required();
  OnRun(describe, ctx, [&ctx, name] { return Describe(ctx, *name); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* del = group->add_subcommand(
      "delete", "delete groups without members\n  e.g. fjordctl group delete billing");
  del->add_option("groups", *names, "the groups")->required();
  OnRun(del, ctx, [&ctx, names] { return Delete(ctx, *names); });

  auto topic = std::make_shared<std::string>();
  auto partitions = std::make_shared<std::vector<int32_t>>();
  CLI::App* del_offsets =
      group->add_subcommand("delete-offsets",
                            "forget a group's committed offsets of a topic\n"
                            "  e.g. fjordctl group delete-offsets billing --topic orders");
  del_offsets->add_option("group", *name, "the group")->required();
  del_offsets->add_option("--topic,-t", *topic, "the topic")->required();
  del_offsets->add_option("--partition,-p", *partitions, "only these partitions (repeatable)");
  OnRun(del_offsets, ctx,
        [&ctx, name, topic, partitions] { return DeleteOffsets(ctx, *name, *topic, *partitions); });

  auto r = std::make_shared<ResetArgs>();
  CLI::App* reset = group->add_subcommand(
      "reset-offsets",
      "move a group's offsets (a dry run unless --execute)\n"
      "  e.g. fjordctl group reset-offsets billing --topic orders --to-datetime "
      "2024-05-01T00:00:00Z --execute");
  reset->add_option("group", r->group, "the group")->required();
  reset->add_option("--topic,-t", r->topic, "the topic")->required();
  reset->add_option("--partition,-p", r->partitions, "only these partitions (repeatable)");
  reset->add_flag("--to-earliest", r->to_earliest, "the log start");
  reset->add_flag("--to-latest", r->to_latest, "the log end");
  reset->add_option("--to-offset", r->to_offset, "this offset (clamped to the log)");
  reset->add_option("--to-datetime", r->to_datetime,
                    "the first record at or after this time (ISO-8601 UTC or ms)");
  reset->add_option("--shift-by", r->shift_by, "move by N (negative: back)");
  reset->add_flag("--execute", r->execute, "commit the new offsets");
  OnRun(reset, ctx, [&ctx, r] { return Reset(ctx, *r); });
}

}  // namespace fjord::ctl
