// FindCoordinator, OffsetCommit and OffsetFetch: the requests that reach a group's
// coordinator (coordinator/group_coordinator.h). Work on a group runs on the loop of its
// __consumer_offsets partition; the answer is posted back to the connection's loop.

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/config/broker_config.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"

namespace fjord::server {

using coordinator::GroupCoordinator;
using coordinator::GroupShard;
using protocol::ErrorCode;

namespace {

constexpr int8_t kGroupKey = 0;
constexpr int8_t kTransactionKey = 1;

struct CoordinatorAnswer {
  ErrorCode error = ErrorCode::kNone;
  std::string message;
  NodeId node{-1};
  std::string host;
  int32_t port = -1;
};

// The leader of the key's partition of a coordinator's topic (__consumer_offsets for
// groups, __transaction_state for transactional ids).
CoordinatorAnswer Locate(const metadata::MetadataImage& image, const std::string& listener,
                         int8_t key_type, const std::string& key) {
  CoordinatorAnswer a;
  const bool group = key_type == kGroupKey;
  const int32_t p = group ? GroupCoordinator::PartitionOf(image, key)
                          : coordinator::TxnCoordinator::PartitionOf(image, key);
  const metadata::TopicImage* t =
      image.TopicByName(group ? coordinator::kOffsetsTopic : coordinator::kTransactionStateTopic);
  if (p < 0 || t == nullptr) {
    a.error = ErrorCode::kCoordinatorNotAvailable;
    a.message = group ? "the group coordinator is not available"
                      : "the transaction coordinator is not available";
    return a;
  }
  const NodeId leader = t->partitions[static_cast<size_t>(p)].leader;
  for (const ServedBroker& sb : BrokersOn(image, listener)) {
    if (sb.broker->id == leader) {
      a.node = leader;
      a.host = sb.endpoint->host;
      a.port = sb.endpoint->port;
      return a;
    }
  }
  a.error = ErrorCode::kCoordinatorNotAvailable;
  a.message = "the coordinator has no endpoint on this listener";
  return a;
}

void AnswerFindCoordinator(Broker& b, const RequestPtr& r,
                           const protocol::FindCoordinatorRequest& req) {
  auto image = b.image();
  auto answer = [&](const std::string& key) {
    if (req.key_type == kGroupKey || req.key_type == kTransactionKey) {
      return Locate(*image, r->conn.listener, req.key_type, key);
    }
    CoordinatorAnswer a;
    a.error = ErrorCode::kInvalidRequest;
    a.message = absl::StrCat("unknown key type ", req.key_type);
    return a;
  };
  protocol::FindCoordinatorResponse resp;
  if (r->version < 4) {
    CoordinatorAnswer a = answer(req.key);
    resp.error_code = Code(a.error);
    resp.error_message =
        a.error == ErrorCode::kNone ? std::nullopt : std::optional<std::string>(a.message);
    resp.node_id = a.node;
    resp.host = a.host;
    resp.port = a.port;
  } else {
    for (const std::string& key : req.coordinator_keys) {
      CoordinatorAnswer a = answer(key);
      protocol::FindCoordinatorResponse::Coordinator c;
      c.key = key;
      c.node_id = a.node;
      c.host = a.host;
      c.port = a.port;
      c.error_code = Code(a.error);
      c.error_message =
          a.error == ErrorCode::kNone ? std::nullopt : std::optional<std::string>(a.message);
      resp.coordinators.push_back(std::move(c));
    }
  }
  Respond(*r, resp);
}

}  // namespace

void OnConnectionLoop(Broker& b, const RequestPtr& r, std::function<void()> fn) {
  b.s.loops->Post(r->conn.loop, std::move(fn));
}

void HandleFindCoordinator(Broker& b, RequestPtr r) {
  protocol::FindCoordinatorRequest req;
  if (!DecodeBody(*r, &req)) return;
  // The first lookup creates the coordinator's topic; clients retry on
  // COORDINATOR_NOT_AVAILABLE meanwhile, as with Kafka.
  auto answer = [&b, r, req](ErrorCode) mutable {
    OnConnectionLoop(b, r, [&b, r, req = std::move(req)] { AnswerFindCoordinator(b, r, req); });
  };
  if (req.key_type == kGroupKey) {
    b.groups->EnsureOffsetsTopic(*b.image(), std::move(answer));
  } else if (req.key_type == kTransactionKey) {
    b.txns->EnsureTopic(*b.image(), std::move(answer));
  } else {
    AnswerFindCoordinator(b, r, req);
  }
}

void HandleOffsetCommit(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::OffsetCommitRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto image = b.image();
  // Per partition, in request order; unknown topics and partitions are refused up front.
  auto items =
      std::make_shared<std::vector<GroupShard::CommitItem>>(CommitItemsOf(*image, req->topics));
  // v2-v4 may ask for their own retention; later versions use offsets.retention.minutes.
  if (r->version <= 4 && req->retention_time_ms >= 0) {
    for (auto& item : *items) item.offset.expire_ms = b.s.clock->NowMs() + req->retention_time_ms;
  }
  auto respond = [&b, r, req, items] {
    protocol::OffsetCommitResponse resp;
    size_t i = 0;
    for (const auto& t : req->topics) {
      protocol::OffsetCommitResponse::OffsetCommitResponseTopic rt;
      rt.name = t.name;
      for (const auto& p : t.partitions) {
        protocol::OffsetCommitResponse::OffsetCommitResponsePartition rp;
        rp.partition_index = p.partition_index;
        rp.error_code = Code((*items)[i++].error);
        rt.partitions.push_back(rp);
      }
      resp.topics.push_back(std::move(rt));
    }
    OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
  };
  auto commit = [&b, req, items, respond](ErrorCode created) {
    if (created != ErrorCode::kNone) {
      for (auto& item : *items) {
        if (item.error == ErrorCode::kNone) item.error = ErrorCode::kCoordinatorNotAvailable;
      }
      respond();
      return;
    }
    b.groups->WithGroup(*b.image(), req->group_id,
                        [req, items, respond](GroupShard* shard, ErrorCode e) {
                          if (shard == nullptr) {
                            for (auto& item : *items) {
                              if (item.error == ErrorCode::kNone) item.error = e;
                            }
                          } else {
                            shard->Commit(req->group_id, req->generation_id_or_member_epoch,
                                          req->member_id, req->group_instance_id, *items);
                          }
                          respond();
                        });
  };
  if (req->group_id.empty()) {
    for (auto& item : *items) item.error = ErrorCode::kInvalidGroupId;
    respond();
    return;
  }
  b.groups->EnsureOffsetsTopic(*image, commit);
}

namespace {

// The committed offsets of one group, for OffsetFetch (all of them when topics is null).
// With require_stable (v7+, KIP-447), a partition whose offset a transaction holds pending
// is UNSTABLE_OFFSET_COMMIT: the consumer retries once the transaction ends.
template <typename Topic, typename RespTopic>
std::vector<RespTopic> FetchGroupOffsets(const GroupShard& shard, const std::string& group,
                                         bool require_stable,
                                         const std::optional<std::vector<Topic>>& topics) {
  const GroupShard::Group* g = shard.Find(group);
  std::vector<RespTopic> out;
  auto partition = [](int32_t index, const coordinator::CommittedOffset* o) {
    typename decltype(RespTopic::partitions)::value_type p;
    p.partition_index = PartitionId(index);
    p.committed_offset = o ? o->offset : Offset(-1);
    p.committed_leader_epoch = LeaderEpoch(o ? o->leader_epoch : -1);
    p.metadata = o ? o->metadata : "";
    return p;
  };
  if (!topics) {
    if (g == nullptr) return out;
    for (const auto& [tp, o] : g->offsets) {
      if (out.empty() || out.back().name != tp.first) {
        out.emplace_back();
        out.back().name = tp.first;
      }
      out.back().partitions.push_back(partition(tp.second, &o));
    }
    return out;
  }
  for (const auto& t : *topics) {
    RespTopic rt;
    rt.name = t.name;
    for (PartitionId p : t.partition_indexes) {
      const coordinator::CommittedOffset* o = nullptr;
      if (g != nullptr) {
        auto it = g->offsets.find({t.name, p.value});
        if (it != g->offsets.end()) o = &it->second;
      }
      rt.partitions.push_back(partition(p.value, o));
      if (require_stable && shard.HasPendingOffset(group, t.name, p.value)) {
        rt.partitions.back().committed_offset = Offset(-1);
        rt.partitions.back().error_code = Code(ErrorCode::kUnstableOffsetCommit);
      }
    }
    out.push_back(std::move(rt));
  }
  return out;
}

}  // namespace

void HandleOffsetFetch(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::OffsetFetchRequest>();
  if (!DecodeBody(*r, req.get())) return;
  using Resp = protocol::OffsetFetchResponse;
  auto resp = std::make_shared<Resp>();
  if (r->version < 8) {
    // One group; errors go in the top-level error code (v2+) or, before that, per partition.
    b.groups->WithGroup(
        *b.image(), req->group_id, [&b, r, req, resp](GroupShard* shard, ErrorCode e) {
          if (shard != nullptr) {
            resp->topics = FetchGroupOffsets<protocol::OffsetFetchRequest::OffsetFetchRequestTopic,
                                             Resp::OffsetFetchResponseTopic>(
                *shard, req->group_id, req->require_stable, req->topics);
          } else if (r->version >= 2) {
            resp->error_code = Code(e);
          } else if (req->topics) {
            for (const auto& t : *req->topics) {
              Resp::OffsetFetchResponseTopic rt;
              rt.name = t.name;
              for (PartitionId p : t.partition_indexes) {
                Resp::OffsetFetchResponsePartition rp;
                rp.partition_index = p;
                rp.committed_offset = Offset(-1);
                rp.error_code = Code(e);
                rt.partitions.push_back(rp);
              }
              resp->topics.push_back(std::move(rt));
            }
          }
          OnConnectionLoop(b, r, [r, resp] { Respond(*r, *resp); });
        });
    return;
  }
  // v8+: several groups, each answered on its own shard; the last one answers.
  resp->groups.resize(req->groups.size());
  if (req->groups.empty()) {
    Respond(*r, *resp);
    return;
  }
  auto pending = std::make_shared<std::atomic<size_t>>(req->groups.size());
  auto image = b.image();
  for (size_t i = 0; i < req->groups.size(); ++i) {
    b.groups->WithGroup(
        *image, req->groups[i].group_id,
        [&b, r, req, resp, pending, i](GroupShard* shard, ErrorCode e) {
          const auto& g = req->groups[i];
          auto& out = resp->groups[i];
          out.group_id = g.group_id;
          if (shard == nullptr) {
            out.error_code = Code(e);
          } else if (g.member_epoch >= 0) {
            // Members with epochs belong to the consumer group protocol, not built yet.
            out.error_code = Code(ErrorCode::kUnknownMemberId);
          } else {
            out.topics = FetchGroupOffsets<protocol::OffsetFetchRequest::OffsetFetchRequestTopics,
                                           Resp::OffsetFetchResponseTopics>(
                *shard, g.group_id, req->require_stable, g.topics);
          }
          if (pending->fetch_sub(1) == 1) {
            OnConnectionLoop(b, r, [r, resp] { Respond(*r, *resp); });
          }
        });
  }
}

}  // namespace fjord::server
