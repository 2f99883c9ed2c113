// GroupShard: membership. The classic group protocol as Kafka's group coordinator runs
// it: JoinGroup (KIP-394 member ids, KIP-345 static members, KIP-814 skip-assignment),
// SyncGroup, Heartbeat, LeaveGroup, and the timers that end join phases, expire silent
// members and drop members that never sync. Offsets and loading are in group_offsets.cc.

#include "fjord/coordinator/group_shard.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_format.h"
#include "fjord/net/event_loops.h"
#include "logger.h"

namespace fjord::coordinator {

using protocol::ErrorCode;

namespace {

// Kafka's timeout for a new member's first JoinGroup: it cannot heart-beat yet, and a
// client that gave up and retried must not leave a member behind forever.
constexpr int64_t kNewMemberJoinTimeoutMs = 300'000;

JoinResult JoinError(ErrorCode e, std::string member_id) {
  JoinResult r;
  r.error = e;
  r.member_id = std::move(member_id);
  return r;
}

SyncResult SyncError(ErrorCode e) {
  SyncResult r;
  r.error = e;
  return r;
}

void Answer(std::function<void(JoinResult)>& cb, JoinResult r) {
  if (!cb) return;
  auto f = std::move(cb);
  cb = nullptr;
  f(std::move(r));
}

void Answer(std::function<void(SyncResult)>& cb, SyncResult r) {
  if (!cb) return;
  auto f = std::move(cb);
  cb = nullptr;
  f(std::move(r));
}

}  // namespace

GroupShard::GroupShard(Clock& clock, Append append, Schedule schedule, GroupConfig config)
    : clock_(clock),
      append_(std::move(append)),
      schedule_(std::move(schedule)),
      config_(config),
      id_seed_(std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32)) {}

GroupShard::~GroupShard() {
  for (auto& [id, g] : groups_) {
    if (g->timer) g->timer->Cancel();
  }
}

void GroupShard::Unload() {
  for (auto& [id, g] : groups_) {
    if (g->timer) g->timer->Cancel();
    g->timer.reset();
    for (auto& [mid, m] : g->members) {
      Answer(m.awaiting_join, JoinError(ErrorCode::kNotCoordinator, mid));
      Answer(m.awaiting_sync, SyncError(ErrorCode::kNotCoordinator));
    }
  }
  schedule_ = nullptr;
}

std::string GroupShard::NewMemberId(const std::string& prefix) {
  // prefix-UUID, as Kafka forms member ids (a random version 4 UUID).
  std::mt19937_64 rng(id_seed_);
  id_seed_ = rng();
  const uint64_t hi = (rng() & ~0xF000ULL) | 0x4000ULL;
  const uint64_t lo = (rng() & ~(3ULL << 62)) | (2ULL << 62);
  return absl::StrFormat("%s-%08x-%04x-%04x-%04x-%012x", prefix, hi >> 32, (hi >> 16) & 0xFFFF,
                         hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

void GroupShard::TransitionTo(Group& g, GroupState s) {
  g.state = s;
  g.state_ms = clock_.NowMs();
}

ErrorCode GroupShard::ValidateMember(const Group& g, const std::string& member_id,
                                     const std::optional<std::string>& instance_id) {
  if (instance_id) {
    const std::string* current = g.StaticMemberId(*instance_id);
    if (current == nullptr) return ErrorCode::kUnknownMemberId;
    if (*current != member_id) return ErrorCode::kFencedInstanceId;
    return ErrorCode::kNone;
  }
  return g.HasMember(member_id) ? ErrorCode::kNone : ErrorCode::kUnknownMemberId;
}

void GroupShard::Heartbeated(GroupMember& m, int64_t now) {
  m.heartbeat_deadline_ms = now + m.session_timeout_ms;
}

// ---- JoinGroup ----

void GroupShard::Join(JoinRequest req, std::function<void(JoinResult)> done) {
  if (req.group_id.empty()) return done(JoinError(ErrorCode::kInvalidGroupId, req.member_id));
  if (req.session_timeout_ms < config_.min_session_timeout_ms ||
      req.session_timeout_ms > config_.max_session_timeout_ms) {
    return done(JoinError(ErrorCode::kInvalidSessionTimeout, req.member_id));
  }
  const bool new_member = req.member_id.empty();
  auto it = groups_.find(req.group_id);
  if (it == groups_.end() && !new_member) {
    return done(JoinError(ErrorCode::kUnknownMemberId, req.member_id));
  }
  Group& g = GetOrCreate(req.group_id);
  // group.max.size: a member already waiting in this join phase is always let back in.
  bool accept = true;
  const auto max = static_cast<size_t>(config_.max_size);
  if (g.Is(GroupState::kPreparingRebalance)) {
    auto m = g.members.find(req.member_id);
    accept = (m != g.members.end() && m->second.awaiting_join) || g.AwaitingJoin() < max;
  } else if (g.Is(GroupState::kCompletingRebalance) || g.Is(GroupState::kStable)) {
    accept = g.HasMember(req.member_id) || g.members.size() < max;
  }
  if (!accept) {
    if (g.HasMember(req.member_id)) RemoveMember(g, req.member_id, "group.max.size reached");
    done(JoinError(ErrorCode::kGroupMaxSizeReached, ""));
  } else if (new_member) {
    NewMemberJoin(g, req, done);
  } else {
    CurrentMemberJoin(g, req, done);
  }
  MaybeCompleteJoin(g);
  Arm(g);
}

void GroupShard::NewMemberJoin(Group& g, JoinRequest& req, std::function<void(JoinResult)>& done) {
  if (g.Is(GroupState::kDead)) return done(JoinError(ErrorCode::kCoordinatorNotAvailable, ""));
  if (!g.SupportsProtocols(req.protocol_type, req.protocols)) {
    return done(JoinError(ErrorCode::kInconsistentGroupProtocol, ""));
  }
  const std::string new_id = NewMemberId(req.instance_id.value_or(req.client_id));
  if (req.instance_id) {
    if (const std::string* old = g.StaticMemberId(*req.instance_id)) {
      const std::string old_id = *old;
      ReplaceStaticMember(g, old_id, req, new_id, std::move(done));
    } else {
      AddMemberAndRebalance(g, new_id, req, std::move(done));
    }
    return;
  }
  if (req.require_known_member_id) {
    // KIP-394: hand out the id and wait for the member to come back with it, so a client
    // that never hears the answer leaves only a pending id behind, not a member.
    g.pending_members[new_id] = clock_.NowMs() + req.session_timeout_ms;
    return done(JoinError(ErrorCode::kMemberIdRequired, new_id));
  }
  AddMemberAndRebalance(g, new_id, req, std::move(done));
}

void GroupShard::CurrentMemberJoin(Group& g, JoinRequest& req,
                                   std::function<void(JoinResult)>& done) {
  const std::string& id = req.member_id;
  if (g.Is(GroupState::kDead)) return done(JoinError(ErrorCode::kCoordinatorNotAvailable, id));
  if (!g.SupportsProtocols(req.protocol_type, req.protocols)) {
    return done(JoinError(ErrorCode::kInconsistentGroupProtocol, id));
  }
  if (g.pending_members.contains(id)) {
    // A pending id is only ever handed to dynamic members.
    if (req.instance_id) return done(JoinError(ErrorCode::kUnknownMemberId, id));
    return AddMemberAndRebalance(g, id, req, std::move(done));
  }
  if (ErrorCode e = ValidateMember(g, id, req.instance_id); e != ErrorCode::kNone) {
    return done(JoinError(e, id));
  }
  GroupMember& m = g.members.at(id);
  const bool same = m.protocols == req.protocols;
  switch (g.state) {
    case GroupState::kPreparingRebalance:
      return UpdateMemberAndRebalance(g, m, req, std::move(done), "member rejoined");
    case GroupState::kCompletingRebalance:
      // Same metadata: the member missed the answer; send it again.
      if (same) return done(CurrentJoinResult(g, id, g.IsLeader(id)));
      return UpdateMemberAndRebalance(g, m, req, std::move(done), "member changed metadata");
    case GroupState::kStable:
      // The leader rejoins to have the assignment redone (e.g. topic metadata changed);
      // a follower with unchanged metadata just gets the current generation.
      if (g.IsLeader(id)) {
        return UpdateMemberAndRebalance(g, m, req, std::move(done), "leader rejoined");
      }
      if (!same) {
        return UpdateMemberAndRebalance(g, m, req, std::move(done), "member changed metadata");
      }
      return done(CurrentJoinResult(g, id, false));
    case GroupState::kEmpty:
    case GroupState::kDead:
      return done(JoinError(ErrorCode::kUnknownMemberId, id));
  }
}

void GroupShard::AddMemberAndRebalance(Group& g, const std::string& member_id, JoinRequest& req,
                                       std::function<void(JoinResult)> done) {
  GroupMember m;
  m.id = member_id;
  m.instance_id = req.instance_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.protocols = std::move(req.protocols);
  m.awaiting_join = std::move(done);
  m.is_new = true;
  m.heartbeat_deadline_ms = clock_.NowMs() + kNewMemberJoinTimeoutMs;
  if (g.Is(GroupState::kPreparingRebalance) && g.generation == 0) g.new_member_added = true;
  if (g.members.empty()) g.protocol_type = req.protocol_type;
  if (!g.leader) g.leader = member_id;
  if (m.instance_id) g.static_members[*m.instance_id] = member_id;
  g.pending_members.erase(member_id);
  g.members.emplace(member_id, std::move(m));
  MaybePrepareRebalance(g, "member " + member_id + " joined");
}

void GroupShard::UpdateMemberAndRebalance(Group& g, GroupMember& m, JoinRequest& req,
                                          std::function<void(JoinResult)> done,
                                          const std::string& reason) {
  m.protocols = std::move(req.protocols);
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.session_timeout_ms = req.session_timeout_ms;
  // A JoinGroup sent again while one waits: the older one is told to retry.
  Answer(m.awaiting_join, JoinError(ErrorCode::kRebalanceInProgress, m.id));
  m.awaiting_join = std::move(done);
  MaybePrepareRebalance(g, reason + ": " + m.id);
}

void GroupShard::ReplaceStaticMember(Group& g, const std::string& old_id, JoinRequest& req,
                                     const std::string& new_id,
                                     std::function<void(JoinResult)> done) {
  // KIP-345: the instance comes back under a new member id; whoever still holds the old
  // id is fenced.
  const std::optional<std::string> old_leader = g.leader;
  auto node = g.members.extract(old_id);
  GroupMember& m = node.mapped();
  Answer(m.awaiting_join, JoinError(ErrorCode::kFencedInstanceId, old_id));
  Answer(m.awaiting_sync, SyncError(ErrorCode::kFencedInstanceId));
  const GroupMember before = m;
  m.id = new_id;
  node.key() = new_id;
  GroupMember& placed = g.members.insert(std::move(node)).position->second;
  if (g.IsLeader(old_id)) g.leader = new_id;
  g.static_members[*req.instance_id] = new_id;
  if (g.pending_sync.erase(old_id) > 0) g.pending_sync.insert(new_id);
  const int64_t now = clock_.NowMs();
  Heartbeated(placed, now);
  placed.protocols = std::move(req.protocols);
  placed.rebalance_timeout_ms = req.rebalance_timeout_ms;
  placed.session_timeout_ms = req.session_timeout_ms;
  switch (g.state) {
    case GroupState::kStable: {
      if (g.protocol && *g.protocol == g.SelectProtocol()) {
        // Same protocol for the next generation: no rebalance, only the new id persisted.
        ErrorCode e = StoreGroup(g);
        if (e != ErrorCode::kNone) {
          Logger().warn("group {}: cannot persist static member {}: {}", g.id, new_id,
                        protocol::ErrorName(e));
          auto back = g.members.extract(new_id);
          back.key() = old_id;
          back.mapped() = before;
          g.members.insert(std::move(back));
          if (g.IsLeader(new_id)) g.leader = old_id;
          g.static_members[*req.instance_id] = old_id;
          JoinResult r = JoinError(e, "");
          r.generation = g.generation;
          r.protocol_type = g.protocol_type;
          r.protocol_name = g.protocol;
          r.leader = old_leader.value_or("");
          return done(std::move(r));
        }
        if (req.supports_skip_assignment) {
          // KIP-814: a returning leader learns it leads but keeps the current assignment.
          JoinResult r = CurrentJoinResult(g, new_id, g.IsLeader(new_id));
          r.skip_assignment = g.IsLeader(new_id);
          return done(std::move(r));
        }
        // Older clients are given the old leader id, so a returning leader does not run
        // an assignment the Stable group would ignore.
        JoinResult r = CurrentJoinResult(g, new_id, false);
        r.leader = old_leader.value_or("");
        return done(std::move(r));
      }
      placed.awaiting_join = std::move(done);
      return MaybePrepareRebalance(g, "static member " + new_id + " changed the protocol");
    }
    case GroupState::kCompletingRebalance:
      // The leader may be assigning to the old id; start over.
      placed.awaiting_join = std::move(done);
      return PrepareRebalance(g, "static member " + new_id + " rejoined during sync");
    case GroupState::kPreparingRebalance:
      placed.awaiting_join = std::move(done);
      return;
    case GroupState::kEmpty:
    case GroupState::kDead:
      placed.awaiting_join = std::move(done);
      return MaybePrepareRebalance(g, "static member " + new_id + " rejoined");
  }
}

JoinResult GroupShard::CurrentJoinResult(const Group& g, const std::string& member_id,
                                         bool with_members) const {
  JoinResult r;
  r.member_id = member_id;
  r.generation = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol;
  r.leader = g.leader.value_or("");
  if (with_members && g.protocol) {
    for (const auto& [id, m] : g.members) {
      r.members.push_back({id, m.instance_id, m.MetadataFor(*g.protocol)});
    }
  }
  return r;
}

void GroupShard::MaybePrepareRebalance(Group& g, const std::string& reason) {
  if (g.Is(GroupState::kStable) || g.Is(GroupState::kCompletingRebalance) ||
      g.Is(GroupState::kEmpty)) {
    PrepareRebalance(g, reason);
  }
}

void GroupShard::PrepareRebalance(Group& g, const std::string& reason) {
  if (g.Is(GroupState::kCompletingRebalance)) {
    for (auto& [id, m] : g.members) m.assignment.clear();
    PropagateAssignment(g, ErrorCode::kRebalanceInProgress);
  }
  g.pending_sync.clear();
  g.sync_deadline_ms = -1;
  const int64_t now = clock_.NowMs();
  if (g.Is(GroupState::kEmpty)) {
    // The first rebalance waits group.initial.rebalance.delay.ms so a group starting up
    // forms in one generation instead of one per arriving member.
    const int64_t delay = config_.initial_rebalance_delay_ms;
    g.initial_join = true;
    g.new_member_added = false;
    g.join_deadline_ms = now + delay;
    g.initial_remaining_ms = std::max<int64_t>(g.RebalanceTimeoutMs() - delay, 0);
  } else {
    g.initial_join = false;
    g.join_deadline_ms = now + g.RebalanceTimeoutMs();
  }
  Logger().info("group {}: preparing to rebalance from generation {} ({})", g.id, g.generation,
                reason);
  TransitionTo(g, GroupState::kPreparingRebalance);
  MaybeCompleteJoin(g);
}

void GroupShard::MaybeCompleteJoin(Group& g) {
  if (g.Is(GroupState::kPreparingRebalance) && !g.initial_join && g.AllMembersJoined()) {
    CompleteJoin(g);
  }
}

void GroupShard::CompleteJoin(Group& g) {
  g.join_deadline_ms = -1;
  g.initial_join = false;
  // Dynamic members that did not rejoin are gone; static ones keep their place until
  // their session times out.
  std::vector<std::string> gone;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join && !m.instance_id) gone.push_back(id);
  }
  for (const std::string& id : gone) g.Erase(id);
  if (g.Is(GroupState::kDead)) return;
  // The leader must be a member that rejoined.
  if (!g.leader || !g.members.at(*g.leader).awaiting_join) {
    g.leader.reset();
    for (const auto& [id, m] : g.members) {
      if (m.awaiting_join) {
        g.leader = id;
        break;
      }
    }
  }
  if (!g.leader && !g.members.empty()) {
    // Only static members that have not rejoined are left: wait another round.
    Logger().warn("group {}: no member rejoined; waiting another rebalance timeout", g.id);
    g.join_deadline_ms = clock_.NowMs() + g.RebalanceTimeoutMs();
    return;
  }
  ++g.generation;
  if (g.members.empty()) {
    g.protocol.reset();
    g.leader.reset();
    TransitionTo(g, GroupState::kEmpty);
    Logger().info("group {}: generation {} is empty", g.id, g.generation);
    if (ErrorCode e = StoreGroup(g); e != ErrorCode::kNone) {
      Logger().warn("group {}: cannot persist the empty generation: {}", g.id,
                    protocol::ErrorName(e));
    }
    return;
  }
  g.protocol = g.SelectProtocol();
  TransitionTo(g, GroupState::kCompletingRebalance);
  Logger().info("group {}: generation {} formed with {} members, protocol {}", g.id, g.generation,
                g.members.size(), *g.protocol);
  const int64_t now = clock_.NowMs();
  for (auto& [id, m] : g.members) {
    Answer(m.awaiting_join, CurrentJoinResult(g, id, g.IsLeader(id)));
    Heartbeated(m, now);
    m.is_new = false;
    g.pending_sync.insert(id);
  }
  g.sync_deadline_ms = now + g.RebalanceTimeoutMs();
}

// ---- SyncGroup, Heartbeat, LeaveGroup ----

void GroupShard::Sync(SyncRequest req, std::function<void(SyncResult)> done) {
  if (req.group_id.empty()) return done(SyncError(ErrorCode::kInvalidGroupId));
  auto it = groups_.find(req.group_id);
  if (it == groups_.end()) return done(SyncError(ErrorCode::kUnknownMemberId));
  Group& g = *it->second;
  if (g.Is(GroupState::kDead)) return done(SyncError(ErrorCode::kCoordinatorNotAvailable));
  if (ErrorCode e = ValidateMember(g, req.member_id, req.instance_id); e != ErrorCode::kNone) {
    return done(SyncError(e));
  }
  if (req.generation != g.generation) return done(SyncError(ErrorCode::kIllegalGeneration));
  if ((req.protocol_type && *req.protocol_type != g.protocol_type) ||
      (req.protocol_name && *req.protocol_name != g.protocol.value_or(""))) {
    return done(SyncError(ErrorCode::kInconsistentGroupProtocol));
  }
  GroupMember& m = g.members.at(req.member_id);
  switch (g.state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return done(SyncError(ErrorCode::kUnknownMemberId));
    case GroupState::kPreparingRebalance:
      return done(SyncError(ErrorCode::kRebalanceInProgress));
    case GroupState::kStable: {
      g.pending_sync.erase(m.id);
      SyncResult r;
      r.protocol_type = g.protocol_type;
      r.protocol_name = g.protocol;
      r.assignment = m.assignment;
      Heartbeated(m, clock_.NowMs());
      done(std::move(r));
      break;
    }
    case GroupState::kCompletingRebalance: {
      Answer(m.awaiting_sync, SyncError(ErrorCode::kRebalanceInProgress));
      m.awaiting_sync = std::move(done);
      g.pending_sync.erase(m.id);
      if (!g.IsLeader(m.id)) break;
      // The leader's assignment: stored first, then handed to everyone waiting. Members
      // it left out get an empty assignment.
      for (auto& [id, member] : g.members) member.assignment.clear();
      for (auto& [id, bytes] : req.assignments) {
        auto target = g.members.find(id);
        if (target != g.members.end()) target->second.assignment = std::move(bytes);
      }
      if (ErrorCode e = StoreGroup(g); e != ErrorCode::kNone) {
        for (auto& [id, member] : g.members) member.assignment.clear();
        PropagateAssignment(g, e);
        MaybePrepareRebalance(g, "the assignment could not be stored");
        break;
      }
      PropagateAssignment(g, ErrorCode::kNone);
      TransitionTo(g, GroupState::kStable);
      break;
    }
  }
  if (g.pending_sync.empty()) g.sync_deadline_ms = -1;
  Arm(g);
}

void GroupShard::PropagateAssignment(Group& g, ErrorCode error) {
  const int64_t now = clock_.NowMs();
  for (auto& [id, m] : g.members) {
    if (!m.awaiting_sync) continue;
    SyncResult r;
    r.error = error;
    if (error == ErrorCode::kNone) {
      r.protocol_type = g.protocol_type;
      r.protocol_name = g.protocol;
      r.assignment = m.assignment;
    }
    Answer(m.awaiting_sync, std::move(r));
    Heartbeated(m, now);
  }
}

ErrorCode GroupShard::Heartbeat(const std::string& group, const std::string& member_id,
                                const std::optional<std::string>& instance_id, int32_t generation) {
  if (group.empty()) return ErrorCode::kInvalidGroupId;
  auto it = groups_.find(group);
  if (it == groups_.end()) return ErrorCode::kUnknownMemberId;
  Group& g = *it->second;
  if (g.Is(GroupState::kDead)) return ErrorCode::kCoordinatorNotAvailable;
  if (ErrorCode e = ValidateMember(g, member_id, instance_id); e != ErrorCode::kNone) return e;
  if (generation != g.generation) return ErrorCode::kIllegalGeneration;
  switch (g.state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return ErrorCode::kUnknownMemberId;
    case GroupState::kPreparingRebalance:
      Heartbeated(g.members.at(member_id), clock_.NowMs());
      return ErrorCode::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      Heartbeated(g.members.at(member_id), clock_.NowMs());
      return ErrorCode::kNone;
  }
  return ErrorCode::kNone;
}

ErrorCode GroupShard::Leave(const std::string& group, std::vector<LeaveItem>& members,
                            const std::string& reason) {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    for (LeaveItem& item : members) item.error = ErrorCode::kUnknownMemberId;
    return ErrorCode::kNone;
  }
  Group& g = *it->second;
  if (g.Is(GroupState::kDead)) return ErrorCode::kCoordinatorNotAvailable;
  const std::string why = reason.empty() ? "member left" : "member left: " + reason;
  for (LeaveItem& item : members) {
    if (item.member_id.empty()) {
      // An administrator removing a static member by its instance id alone.
      const std::string* id = item.instance_id ? g.StaticMemberId(*item.instance_id) : nullptr;
      if (id == nullptr) {
        item.error = ErrorCode::kUnknownMemberId;
      } else {
        const std::string copy = *id;
        RemoveMember(g, copy, why);
      }
    } else if (g.pending_members.contains(item.member_id)) {
      RemovePendingMember(g, item.member_id);
    } else if (ErrorCode e = ValidateMember(g, item.member_id, item.instance_id);
               e != ErrorCode::kNone) {
      item.error = e;
    } else {
      RemoveMember(g, item.member_id, why);
    }
  }
  Arm(g);
  return ErrorCode::kNone;
}

void GroupShard::RemoveMember(Group& g, const std::string& member_id, const std::string& reason) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Answer(it->second.awaiting_join, JoinError(ErrorCode::kUnknownMemberId, ""));
  Answer(it->second.awaiting_sync, SyncError(ErrorCode::kUnknownMemberId));
  g.Erase(member_id);
  switch (g.state) {
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      MaybePrepareRebalance(g, reason + ": " + member_id);
      break;
    case GroupState::kPreparingRebalance:
      MaybeCompleteJoin(g);
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
}

void GroupShard::RemovePendingMember(Group& g, const std::string& member_id) {
  g.pending_members.erase(member_id);
  MaybeCompleteJoin(g);
}

// ---- Timers ----

void GroupShard::Arm(Group& g) {
  if (!schedule_) return;
  int64_t next = INT64_MAX;
  for (const auto& [id, deadline] : g.pending_members) next = std::min(next, deadline);
  for (const auto& [id, m] : g.members) {
    // A member waiting in a rebalance is alive by definition, unless it is new.
    if (m.is_new || (!m.awaiting_join && !m.awaiting_sync)) {
      next = std::min(next, m.heartbeat_deadline_ms);
    }
  }
  if (g.Is(GroupState::kPreparingRebalance) && g.join_deadline_ms >= 0) {
    next = std::min(next, g.join_deadline_ms);
  }
  if (g.sync_deadline_ms >= 0 && !g.pending_sync.empty()) next = std::min(next, g.sync_deadline_ms);
  if (next == INT64_MAX) return;                 // an armed timer finds nothing due and lapses
  if (g.timer && g.timer_at_ms <= next) return;  // fires first; re-arms then
  if (g.timer) g.timer->Cancel();
  g.timer_at_ms = next;
  g.timer =
      schedule_(std::max<int64_t>(next - clock_.NowMs(), 0), [this, id = g.id] { OnTimer(id); });
}

void GroupShard::OnTimer(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  Group& g = *it->second;
  g.timer.reset();
  g.timer_at_ms = -1;
  const int64_t now = clock_.NowMs();
  std::vector<std::string> expired;
  for (const auto& [id, deadline] : g.pending_members) {
    if (deadline <= now) expired.push_back(id);
  }
  for (const std::string& id : expired) RemovePendingMember(g, id);
  expired.clear();
  for (const auto& [id, m] : g.members) {
    if ((m.is_new || (!m.awaiting_join && !m.awaiting_sync)) && m.heartbeat_deadline_ms <= now) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired) {
    Logger().info("group {}: member {} expired (no heartbeat within its session timeout)", g.id,
                  id);
    RemoveMember(g, id, "session timeout expired");
  }
  if (g.Is(GroupState::kPreparingRebalance) && g.join_deadline_ms >= 0 &&
      g.join_deadline_ms <= now) {
    if (g.initial_join && g.new_member_added && g.initial_remaining_ms > 0) {
      // Members are still arriving: wait one more delay, within the rebalance timeout.
      const int64_t delay =
          std::min<int64_t>(config_.initial_rebalance_delay_ms, g.initial_remaining_ms);
      g.new_member_added = false;
      g.initial_remaining_ms -= delay;
      g.join_deadline_ms = now + delay;
    } else {
      CompleteJoin(g);
    }
  }
  if ((g.Is(GroupState::kCompletingRebalance) || g.Is(GroupState::kStable)) &&
      g.sync_deadline_ms >= 0 && g.sync_deadline_ms <= now) {
    g.sync_deadline_ms = -1;
    if (!g.pending_sync.empty()) {
      const std::set<std::string> late = std::move(g.pending_sync);
      g.pending_sync.clear();
      for (const std::string& id : late) {
        Logger().info("group {}: member {} did not sync in time", g.id, id);
        g.Erase(id);
      }
      PrepareRebalance(g, "members did not sync in time");
    }
  }
  Arm(g);
}

}  // namespace fjord::coordinator
