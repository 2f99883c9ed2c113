// JoinGroup, SyncGroup, Heartbeat and LeaveGroup: the classic group membership protocol.
// The decisions are the group shard's (coordinator/group_shard.h); these handlers decode,
// run the request on the shard's loop and answer from the connection's loop. A JoinGroup
// or SyncGroup may be parked there until the rebalance reaches it.

#include "broker.h"
#include "fjord/protocol/messages/heartbeat_request.h"
#include "fjord/protocol/messages/heartbeat_response.h"
#include "fjord/protocol/messages/join_group_request.h"
#include "fjord/protocol/messages/join_group_response.h"
#include "fjord/protocol/messages/leave_group_request.h"
#include "fjord/protocol/messages/leave_group_response.h"
#include "fjord/protocol/messages/sync_group_request.h"
#include "fjord/protocol/messages/sync_group_response.h"

namespace fjord::server {

using coordinator::GroupShard;
using coordinator::JoinResult;
using coordinator::SyncResult;
using protocol::ErrorCode;

namespace {

// Kafka reports a member's host as Java's InetAddress.toString(): "/" and the address.
std::string ClientHost(const Request& r) {
  const std::string& peer = r.conn.peer;
  const size_t colon = peer.rfind(':');
  std::string host = colon == std::string::npos ? peer : peer.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return "/" + host;
}

protocol::JoinGroupResponse ToResponse(const JoinResult& j) {
  protocol::JoinGroupResponse resp;
  resp.error_code = Code(j.error);
  resp.generation_id = j.generation;
  resp.protocol_type = j.protocol_type;
  resp.protocol_name = j.protocol_name;
  resp.leader = j.leader;
  resp.skip_assignment = j.skip_assignment;
  resp.member_id = j.member_id;
  for (const JoinResult::Member& m : j.members) {
    protocol::JoinGroupResponse::JoinGroupResponseMember rm;
    rm.member_id = m.member_id;
    rm.group_instance_id = m.instance_id;
    rm.metadata = m.metadata;
    resp.members.push_back(std::move(rm));
  }
  return resp;
}

}  // namespace

void HandleJoinGroup(Broker& b, RequestPtr r) {
  protocol::JoinGroupRequest req;
  if (!DecodeBody(*r, &req)) return;
  GroupShard::JoinRequest j;
  j.group_id = req.group_id;
  j.member_id = req.member_id;
  j.instance_id = req.group_instance_id;
  j.client_id = r->client_id.value_or("");
  j.client_host = ClientHost(*r);
  j.protocol_type = req.protocol_type;
  for (auto& p : req.protocols) j.protocols.push_back({p.name, std::move(p.metadata)});
  j.session_timeout_ms = req.session_timeout_ms;
  // v0 has no rebalance timeout: the session timeout serves as both.
  j.rebalance_timeout_ms = r->version == 0 ? req.session_timeout_ms : req.rebalance_timeout_ms;
  j.require_known_member_id = r->version >= 4;
  j.supports_skip_assignment = r->version >= 9;
  j.reason = req.reason.value_or("");
  auto answer = [&b, r](const JoinResult& result) {
    OnConnectionLoop(b, r, [r, resp = ToResponse(result)] { Respond(*r, resp); });
  };
  const std::string group = j.group_id;  // j moves into the callback below
  b.groups->WithGroup(*b.image(), group,
                      [j = std::move(j), answer](GroupShard* shard, ErrorCode e) mutable {
                        if (shard == nullptr) {
                          JoinResult fail;
                          fail.error = e;
                          fail.member_id = j.member_id;
                          return answer(fail);
                        }
                        shard->Join(std::move(j), answer);
                      });
}

void HandleSyncGroup(Broker& b, RequestPtr r) {
  protocol::SyncGroupRequest req;
  if (!DecodeBody(*r, &req)) return;
  GroupShard::SyncRequest s;
  s.group_id = req.group_id;
  s.member_id = req.member_id;
  s.instance_id = req.group_instance_id;
  s.generation = req.generation_id;
  s.protocol_type = req.protocol_type;
  s.protocol_name = req.protocol_name;
  for (auto& a : req.assignments) s.assignments.emplace_back(a.member_id, std::move(a.assignment));
  auto answer = [&b, r](const SyncResult& result) {
    protocol::SyncGroupResponse resp;
    resp.error_code = Code(result.error);
    resp.protocol_type = result.protocol_type;
    resp.protocol_name = result.protocol_name;
    resp.assignment = result.assignment;
    OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
  };
  const std::string group = s.group_id;  // s moves into the callback below
  b.groups->WithGroup(
      *b.image(), group, [s = std::move(s), answer](GroupShard* shard, ErrorCode e) mutable {
        if (shard == nullptr) {
          // A loading coordinator lost any rebalance in flight: the member
          // rejoins (older clients do not know COORDINATOR_LOAD_IN_PROGRESS
          // here).
          SyncResult fail;
          fail.error =
              e == ErrorCode::kCoordinatorLoadInProgress ? ErrorCode::kRebalanceInProgress : e;
          return answer(fail);
        }
        shard->Sync(std::move(s), answer);
      });
}

void HandleHeartbeat(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::HeartbeatRequest>();
  if (!DecodeBody(*r, req.get())) return;
  b.groups->WithGroup(*b.image(), req->group_id, [&b, r, req](GroupShard* shard, ErrorCode e) {
    protocol::HeartbeatResponse resp;
    if (shard != nullptr) {
      e = shard->Heartbeat(req->group_id, req->member_id, req->group_instance_id,
                           req->generation_id);
    } else if (e == ErrorCode::kCoordinatorLoadInProgress) {
      e = ErrorCode::kNone;  // Kafka answers blindly while the group loads
    }
    resp.error_code = Code(e);
    OnConnectionLoop(b, r, [r, resp] { Respond(*r, resp); });
  });
}

void HandleLeaveGroup(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::LeaveGroupRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto items = std::make_shared<std::vector<GroupShard::LeaveItem>>();
  if (r->version < 3) {
    items->push_back({req->member_id, std::nullopt});
  } else {
    for (const auto& m : req->members) items->push_back({m.member_id, m.group_instance_id});
  }
  std::string reason;
  if (!req->members.empty() && req->members.front().reason) reason = *req->members.front().reason;
  b.groups->WithGroup(*b.image(), req->group_id,
                      [&b, r, req, items, reason](GroupShard* shard, ErrorCode e) {
                        if (shard != nullptr) e = shard->Leave(req->group_id, *items, reason);
                        protocol::LeaveGroupResponse resp;
                        resp.error_code = Code(e);
                        if (e == ErrorCode::kNone) {
                          for (const GroupShard::LeaveItem& item : *items) {
                            protocol::LeaveGroupResponse::MemberResponse m;
                            m.member_id = item.member_id;
                            m.group_instance_id = item.instance_id;
                            m.error_code = Code(item.error);
                            resp.members.push_back(std::move(m));
                          }
                          // Before v3 one member leaves and its error is the response's.
                          if (r->version < 3 && !items->empty())
                            resp.error_code = Code(items->front().error);
                        }
                        OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
                      });
}

}  // namespace fjord::server
