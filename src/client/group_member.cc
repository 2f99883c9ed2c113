#include "fjord/client/group_member.h"

#include "absl/strings/str_cat.h"
#include "fjord/protocol/messages/heartbeat_request.h"
#include "fjord/protocol/messages/heartbeat_response.h"
#include "fjord/protocol/messages/join_group_request.h"
#include "fjord/protocol/messages/join_group_response.h"
#include "fjord/protocol/messages/leave_group_request.h"
#include "fjord/protocol/messages/leave_group_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/sync_group_request.h"
#include "fjord/protocol/messages/sync_group_response.h"

namespace fjord::client {

using protocol::ErrorCode;

namespace {

constexpr const char* kProtocolType = "consumer";

absl::Status GroupError(int16_t code, const std::string& what) {
  if (code == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(std::string(protocol::ErrorName(static_cast<ErrorCode>(code))), ": ", what));
}

template <typename Response>
RetryCheck<Response> RetryRouting() {
  return [](const Response& r) {
    const auto e = static_cast<ErrorCode>(r.error_code);
    return IsRoutingError(e) ? e : ErrorCode::kNone;
  };
}

// "Start the rebalance over": the member id changed, or the group moved on meanwhile.
absl::Status Again(const std::string& why) { return absl::UnavailableError(why); }

}  // namespace

GroupMember::GroupMember(Client& client, GroupMemberOptions options)
    : client_(client), options_(std::move(options)), heartbeats_([this] { HeartbeatLoop(); }) {}

GroupMember::~GroupMember() { StopHeartbeats(); }

void GroupMember::StopHeartbeats() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (heartbeats_.joinable()) heartbeats_.join();
}

bool GroupMember::rebalance_needed() const {
  std::lock_guard lock(mu_);
  return rebalance_needed_;
}

std::string GroupMember::member_id() const {
  std::lock_guard lock(mu_);
  return member_id_;
}

int32_t GroupMember::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::string GroupMember::assignor() const {
  std::lock_guard lock(mu_);
  return assignor_;
}

absl::StatusOr<TopicPartitions> GroupMember::Join() {
  {
    std::lock_guard lock(mu_);
    joined_ = false;  // no heartbeats for a generation that is ending
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.rebalance_timeout;
  for (;;) {
    absl::StatusOr<TopicPartitions> a = JoinOnce();
    if (a.ok() || !absl::IsUnavailable(a.status())) return a;
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("group ", options_.group, ": no stable generation within ",
                       options_.rebalance_timeout.count(), " ms (", a.status().message(), ")"));
    }
  }
}

absl::StatusOr<TopicPartitions> GroupMember::JoinOnce() {
  // JoinGroup and SyncGroup are held by the coordinator until every member has rejoined.
  const auto timeout = options_.rebalance_timeout + std::chrono::milliseconds(5000);
  protocol::JoinGroupRequest join;
  join.group_id = options_.group;
  join.session_timeout_ms = static_cast<int32_t>(options_.session_timeout.count());
  join.rebalance_timeout_ms = static_cast<int32_t>(options_.rebalance_timeout.count());
  join.member_id = member_id();
  join.protocol_type = kProtocolType;
  const std::vector<uint8_t> subscription = EncodeSubscription(options_.topics);
  for (const std::string& name : options_.assignors) {
    protocol::JoinGroupRequest::JoinGroupRequestProtocol p;
    p.name = name;
    p.metadata = subscription;
    join.protocols.push_back(std::move(p));
  }
  auto joined = client_.CallWithin<protocol::JoinGroupResponse>(
      timeout, Target::Group(options_.group), join, RetryRouting<protocol::JoinGroupResponse>());
  if (!joined.ok()) return joined.status();
  switch (static_cast<ErrorCode>(joined->error_code)) {
    case ErrorCode::kNone:
      break;
    case ErrorCode::kMemberIdRequired: {  // KIP-394: join again with the id given
      std::lock_guard lock(mu_);
      member_id_ = joined->member_id;
      return Again("member id assigned");
    }
    case ErrorCode::kUnknownMemberId: {
      std::lock_guard lock(mu_);
      member_id_.clear();
      return Again("member id unknown to the coordinator");
    }
    case ErrorCode::kRebalanceInProgress:
      return Again("rebalance in progress");
    default:
      return GroupError(joined->error_code, "JoinGroup " + options_.group);
  }
  const std::string assignor = joined->protocol_name.value_or("");
  {
    std::lock_guard lock(mu_);
    member_id_ = joined->member_id;
    generation_ = joined->generation_id;
    assignor_ = assignor;
  }

  protocol::SyncGroupRequest sync;
  sync.group_id = options_.group;
  sync.generation_id = joined->generation_id;
  sync.member_id = joined->member_id;
  sync.protocol_type = kProtocolType;
  sync.protocol_name = assignor;
  if (joined->leader == joined->member_id) {
    std::map<std::string, std::set<std::string>> members;
    for (const auto& m : joined->members) {
      auto topics = DecodeSubscription(m.metadata);
      if (!topics.ok()) {
        return absl::DataLossError(absl::StrCat("group ", options_.group, ": member ", m.member_id,
                                                "'s subscription: ", topics.status().message()));
      }
      members[m.member_id].insert(topics->begin(), topics->end());
    }
    auto assignments = AssignAll(assignor, members);
    if (!assignments.ok()) return assignments.status();
    for (auto& [member, bytes] : *assignments) {
      protocol::SyncGroupRequest::SyncGroupRequestAssignment a;
      a.member_id = member;
      a.assignment = std::move(bytes);
      sync.assignments.push_back(std::move(a));
    }
  }
  auto synced = client_.CallWithin<protocol::SyncGroupResponse>(
      timeout, Target::Group(options_.group), sync, RetryRouting<protocol::SyncGroupResponse>());
  if (!synced.ok()) return synced.status();
  switch (static_cast<ErrorCode>(synced->error_code)) {
    case ErrorCode::kNone:
      break;
    case ErrorCode::kRebalanceInProgress:
    case ErrorCode::kIllegalGeneration:
      return Again("the group rebalanced again");
    case ErrorCode::kUnknownMemberId: {
      std::lock_guard lock(mu_);
      member_id_.clear();
      return Again("member id unknown to the coordinator");
    }
    default:
      return GroupError(synced->error_code, "SyncGroup " + options_.group);
  }
  auto mine = DecodeAssignment(synced->assignment);
  if (!mine.ok()) return mine.status();
  {
    std::lock_guard lock(mu_);
    joined_ = true;
    rebalance_needed_ = false;
  }
  return mine;
}

absl::StatusOr<std::map<std::string, std::vector<uint8_t>>> GroupMember::AssignAll(
    const std::string& assignor, const std::map<std::string, std::set<std::string>>& members) {
  std::set<std::string> topics;
  for (const auto& [member, ts] : members) topics.insert(ts.begin(), ts.end());
  absl::StatusOr<ClusterInfo> cluster =
      client_.Metadata(std::vector<std::string>(topics.begin(), topics.end()), false);
  if (!cluster.ok()) return cluster.status();
  std::map<std::string, int32_t> counts;
  for (const auto& [name, t] : cluster->topics) {
    if (t.error == ErrorCode::kNone) counts[name] = static_cast<int32_t>(t.partitions.size());
  }
  auto plan = Assign(assignor, members, counts);
  if (!plan.ok()) return plan.status();
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& [member, parts] : *plan) out[member] = EncodeAssignment(parts);
  return out;
}

absl::Status GroupMember::Commit(const std::map<std::string, std::map<int32_t, int64_t>>& offsets) {
  protocol::OffsetCommitRequest req;
  req.group_id = options_.group;
  {
    std::lock_guard lock(mu_);
    req.generation_id_or_member_epoch = generation_;
    req.member_id = member_id_;
  }
  for (const auto& [topic, parts] : offsets) {
    protocol::OffsetCommitRequest::OffsetCommitRequestTopic t;
    t.name = topic;
    for (const auto& [p, offset] : parts) {
      protocol::OffsetCommitRequest::OffsetCommitRequestPartition cp;
      cp.partition_index = PartitionId(p);
      cp.committed_offset = Offset(offset);
      t.partitions.push_back(cp);
    }
    req.topics.push_back(std::move(t));
  }
  if (req.topics.empty()) return absl::OkStatus();
  auto resp = client_.Call<protocol::OffsetCommitResponse>(
      Target::Group(options_.group), req, PartitionRetry<protocol::OffsetCommitResponse>());
  if (!resp.ok()) return resp.status();
  for (const auto& t : resp->topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code == 0) continue;
      const auto e = static_cast<ErrorCode>(p.error_code);
      if (e == ErrorCode::kRebalanceInProgress || e == ErrorCode::kIllegalGeneration ||
          e == ErrorCode::kUnknownMemberId) {
        std::lock_guard lock(mu_);
        rebalance_needed_ = true;
      }
      return GroupError(p.error_code, absl::StrCat("OffsetCommit ", options_.group, " ", t.name,
                                                   "-", p.partition_index.value));
    }
  }
  return absl::OkStatus();
}

absl::Status GroupMember::Leave() {
  std::string member;
  {
    std::lock_guard lock(mu_);
    joined_ = false;
    member = member_id_;
  }
  if (member.empty()) return absl::OkStatus();
  protocol::LeaveGroupRequest req;
  req.group_id = options_.group;
  req.member_id = member;  // v0-2
  protocol::LeaveGroupRequest::MemberIdentity m;
  m.member_id = member;
  m.reason = "the consumer is closing";
  req.members.push_back(m);  // v3+
  auto resp = client_.Call<protocol::LeaveGroupResponse>(
      Target::Group(options_.group), req, RetryRouting<protocol::LeaveGroupResponse>());
  {
    std::lock_guard lock(mu_);
    member_id_.clear();
    generation_ = -1;
  }
  if (!resp.ok()) return resp.status();
  if (absl::Status s = GroupError(resp->error_code, "LeaveGroup " + options_.group); !s.ok()) {
    return s;
  }
  for (const auto& mr : resp->members) {
    if (absl::Status s = GroupError(mr.error_code, "LeaveGroup " + options_.group); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void GroupMember::HeartbeatLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.heartbeat_interval, [this] { return stopping_; });
    if (stopping_) break;
    if (!joined_ || rebalance_needed_) continue;
    protocol::HeartbeatRequest req;
    req.group_id = options_.group;
    req.generation_id = generation_;
    req.member_id = member_id_;
    lock.unlock();
    // A lost heartbeat is tried again next interval; the session outlasts a few. (It may
    // wait behind a Fetch on the connection, so it gets the whole request timeout.)
    auto resp = client_.Call<protocol::HeartbeatResponse>(
        Target::Group(options_.group), req, RetryRouting<protocol::HeartbeatResponse>());
    lock.lock();
    if (!resp.ok() || req.generation_id != generation_) continue;
    switch (static_cast<ErrorCode>(resp->error_code)) {
      case ErrorCode::kRebalanceInProgress:
      case ErrorCode::kIllegalGeneration:
      case ErrorCode::kFencedInstanceId:
        rebalance_needed_ = true;
        break;
      case ErrorCode::kUnknownMemberId:
        member_id_.clear();
        rebalance_needed_ = true;
        break;
      default:
        break;
    }
  }
}

}  // namespace fjord::client
