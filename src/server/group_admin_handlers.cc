// DescribeGroups, ListGroups, DeleteGroups and OffsetDelete: the admin view of groups.
// Each group is read or changed on the loop of its __consumer_offsets partition; the
// answer is assembled there and sent from the connection's loop.

#include <mutex>

#include "absl/strings/match.h"
#include "broker.h"
#include "fjord/protocol/messages/delete_groups_request.h"
#include "fjord/protocol/messages/delete_groups_response.h"
#include "fjord/protocol/messages/describe_groups_request.h"
#include "fjord/protocol/messages/describe_groups_response.h"
#include "fjord/protocol/messages/list_groups_request.h"
#include "fjord/protocol/messages/list_groups_response.h"
#include "fjord/protocol/messages/offset_delete_request.h"
#include "fjord/protocol/messages/offset_delete_response.h"

namespace fjord::server {

using coordinator::GroupShard;
using coordinator::GroupState;
using protocol::ErrorCode;

namespace {

// With no authorizer every operation on a group is allowed: READ, DELETE and DESCRIBE
// (the AclOperation codes 3, 6 and 8 as bits).
constexpr int32_t kGroupOperations = (1 << 3) | (1 << 6) | (1 << 8);

// Runs per(i, shard, error) for each group on its shard's loop; the last one to finish
// sends `resp`.
template <typename Resp>
void ForEachGroup(Broker& b, const RequestPtr& r, const std::vector<std::string>& groups,
                  std::shared_ptr<Resp> resp,
                  std::function<void(size_t, GroupShard*, ErrorCode)> per) {
  if (groups.empty()) {
    Respond(*r, *resp);
    return;
  }
  auto pending = std::make_shared<std::atomic<size_t>>(groups.size());
  auto image = b.image();
  for (size_t i = 0; i < groups.size(); ++i) {
    b.groups->WithGroup(*image, groups[i],
                        [&b, r, resp, pending, per, i](GroupShard* shard, ErrorCode e) {
                          per(i, shard, e);
                          if (pending->fetch_sub(1) == 1) {
                            OnConnectionLoop(b, r, [r, resp] { Respond(*r, *resp); });
                          }
                        });
  }
}

protocol::DescribeGroupsResponse::DescribedGroup Describe(const std::string& id,
                                                          const GroupShard::Group* g) {
  protocol::DescribeGroupsResponse::DescribedGroup out;
  out.group_id = id;
  if (g == nullptr) {
    out.group_state = "Dead";  // Kafka describes an unknown group as Dead, without error
    return out;
  }
  out.group_state = coordinator::StateName(g->state);
  out.protocol_type = g->protocol_type;
  // Metadata and assignments are shown only for a Stable group, as Kafka does.
  const bool stable = g->Is(GroupState::kStable) && g->protocol;
  if (stable) out.protocol_data = *g->protocol;
  for (const auto& [mid, m] : g->members) {
    protocol::DescribeGroupsResponse::DescribedGroupMember dm;
    dm.member_id = m.id;
    dm.group_instance_id = m.instance_id;
    dm.client_id = m.client_id;
    dm.client_host = m.client_host;
    if (stable) {
      dm.member_metadata = m.MetadataFor(*g->protocol);
      dm.member_assignment = m.assignment;
    }
    out.members.push_back(std::move(dm));
  }
  return out;
}

bool ContainsIgnoringCase(const std::vector<std::string>& list, const std::string& s) {
  for (const std::string& x : list) {
    if (absl::EqualsIgnoreCase(x, s)) return true;
  }
  return false;
}

}  // namespace

void HandleDescribeGroups(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::DescribeGroupsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto resp = std::make_shared<protocol::DescribeGroupsResponse>();
  resp->groups.resize(req->groups.size());
  ForEachGroup<protocol::DescribeGroupsResponse>(
      b, r, req->groups, resp, [req, resp](size_t i, GroupShard* shard, ErrorCode e) {
        auto& out = resp->groups[i];
        if (shard == nullptr) {
          out.group_id = req->groups[i];
          out.error_code = Code(e);
          return;
        }
        out = Describe(req->groups[i], shard->Find(req->groups[i]));
        if (req->include_authorized_operations) out.authorized_operations = kGroupOperations;
      });
}

void HandleListGroups(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ListGroupsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  struct Collected {
    std::mutex mu;
    protocol::ListGroupsResponse resp;
  };
  auto c = std::make_shared<Collected>();
  // Only classic groups exist; a type filter without "classic" matches nothing.
  const bool classic_wanted =
      req->types_filter.empty() || ContainsIgnoringCase(req->types_filter, "classic");
  b.groups->ForEachShard(
      *b.image(),
      [req, c, classic_wanted](GroupShard* shard, ErrorCode e) {
        std::lock_guard lock(c->mu);
        if (shard == nullptr) {
          c->resp.error_code = Code(e);  // e.g. a partition still loading
          return;
        }
        if (!classic_wanted) return;
        for (const auto& [id, g] : shard->groups()) {
          const std::string state = coordinator::StateName(g->state);
          if (!req->states_filter.empty() && !ContainsIgnoringCase(req->states_filter, state)) {
            continue;
          }
          protocol::ListGroupsResponse::ListedGroup lg;
          lg.group_id = id;
          lg.protocol_type = g->protocol_type;
          lg.group_state = state;
          lg.group_type = "classic";
          c->resp.groups.push_back(std::move(lg));
        }
      },
      [&b, r, c] {
        OnConnectionLoop(b, r, [r, c] {
          std::lock_guard lock(c->mu);
          Respond(*r, c->resp);
        });
      });
}

void HandleDeleteGroups(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::DeleteGroupsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto resp = std::make_shared<protocol::DeleteGroupsResponse>();
  resp->results.resize(req->groups_names.size());
  ForEachGroup<protocol::DeleteGroupsResponse>(
      b, r, req->groups_names, resp, [req, resp](size_t i, GroupShard* shard, ErrorCode e) {
        auto& out = resp->results[i];
        out.group_id = req->groups_names[i];
        out.error_code = Code(shard == nullptr ? e : shard->DeleteGroup(req->groups_names[i]));
      });
}

void HandleOffsetDelete(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::OffsetDeleteRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto image = b.image();
  auto items = std::make_shared<std::vector<GroupShard::DeleteItem>>();
  for (const auto& t : req->topics) {
    const metadata::TopicImage* topic = image->TopicByName(t.name);
    for (const auto& p : t.partitions) {
      GroupShard::DeleteItem item;
      item.topic = t.name;
      item.partition = p.partition_index.value;
      if (topic == nullptr || !topic->HasPartition(p.partition_index.value)) {
        item.error = ErrorCode::kUnknownTopicOrPartition;
      }
      items->push_back(std::move(item));
    }
  }
  b.groups->WithGroup(*image, req->group_id, [&b, r, req, items](GroupShard* shard, ErrorCode e) {
    if (shard != nullptr) e = shard->DeleteOffsets(req->group_id, *items);
    protocol::OffsetDeleteResponse resp;
    resp.error_code = Code(e);
    if (e == ErrorCode::kNone) {
      size_t i = 0;
      for (const auto& t : req->topics) {
        protocol::OffsetDeleteResponse::OffsetDeleteResponseTopic rt;
        rt.name = t.name;
        for (const auto& p : t.partitions) {
          protocol::OffsetDeleteResponse::OffsetDeleteResponsePartition rp;
          rp.partition_index = p.partition_index;
          rp.error_code = Code((*items)[i++].error);
          rt.partitions.push_back(rp);
        }
        resp.topics.push_back(std::move(rt));
      }
    }
    OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
  });
}

}  // namespace fjord::server
