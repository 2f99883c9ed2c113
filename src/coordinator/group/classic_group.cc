#include "fjord/coordinator/classic_group.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "fjord/protocol/messages/consumer_protocol_subscription.h"
#include "fjord/protocol/wire.h"

namespace fjord::coordinator {

const char* StateName(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Unknown";
}

const std::vector<uint8_t>& GroupMember::MetadataFor(const std::string& protocol) const {
  static const std::vector<uint8_t> kNone;
  for (const MemberProtocol& p : protocols) {
    if (p.name == protocol) return p.metadata;
  }
  return kNone;
}

const std::string* ClassicGroup::StaticMemberId(const std::string& instance_id) const {
  auto it = static_members.find(instance_id);
  return it == static_members.end() ? nullptr : &it->second;
}

size_t ClassicGroup::AwaitingJoin() const {
  return static_cast<size_t>(std::count_if(members.begin(), members.end(), [](const auto& m) {
    return static_cast<bool>(m.second.awaiting_join);
  }));
}

bool ClassicGroup::AllMembersJoined() const {
  return pending_members.empty() && AwaitingJoin() == members.size();
}

int32_t ClassicGroup::RebalanceTimeoutMs() const {
  int32_t out = 0;
  for (const auto& [id, m] : members) out = std::max(out, m.rebalance_timeout_ms);
  return out;
}

void ClassicGroup::Erase(const std::string& member_id) {
  auto it = members.find(member_id);
  if (it == members.end()) return;
  if (it->second.instance_id) {
    auto s = static_members.find(*it->second.instance_id);
    if (s != static_members.end() && s->second == member_id) static_members.erase(s);
  }
  members.erase(it);
  pending_sync.erase(member_id);
  if (IsLeader(member_id)) {
    leader.reset();
    if (!members.empty()) leader = members.begin()->first;
  }
}

bool ClassicGroup::EveryMemberSupports(const std::string& name) const {
  return std::all_of(members.begin(), members.end(), [&](const auto& m) {
    return std::any_of(m.second.protocols.begin(), m.second.protocols.end(),
                       [&](const MemberProtocol& q) { return q.name == name; });
  });
}

bool ClassicGroup::SupportsProtocols(const std::string& type,
                                     const std::vector<MemberProtocol>& offered) const {
  if (members.empty()) return !type.empty() && !offered.empty();
  if (type != protocol_type) return false;
  return std::any_of(offered.begin(), offered.end(),
                     [&](const MemberProtocol& p) { return EveryMemberSupports(p.name); });
}

std::string ClassicGroup::SelectProtocol() const {
  // Candidates: the protocols every member offers, in the first member's order.
  std::vector<std::string> candidates;
  if (members.empty()) return "";
  for (const MemberProtocol& p : members.begin()->second.protocols) {
    if (EveryMemberSupports(p.name)) candidates.push_back(p.name);
  }
  if (candidates.empty()) return "";
  // Each member votes for the candidate it ranks highest; most votes wins, ties go to
  // the earlier candidate.
  absl::flat_hash_map<std::string, int> votes;
  for (const auto& [id, m] : members) {
    for (const MemberProtocol& p : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const std::string& c : candidates) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

std::optional<std::set<std::string>> ClassicGroup::SubscribedTopics() const {
  if (protocol_type != "consumer" || !protocol) return std::nullopt;
  std::set<std::string> topics;
  for (const auto& [id, m] : members) {
    const std::vector<uint8_t>& meta = m.MetadataFor(*protocol);
    if (meta.size() < 2) return std::nullopt;
    // An int16 version, then the subscription; newer versions only append fields.
    auto version = static_cast<int16_t>((meta[0] << 8) | meta[1]);
    if (version < 0) return std::nullopt;
    version = std::min(version, protocol::ConsumerProtocolSubscription::kMaxVersion);
    protocol::ConsumerProtocolSubscription s;
    size_t consumed = 0;
    if (!protocol::DecodeMessage(std::span<const uint8_t>(meta).subspan(2), version, &s, &consumed)
             .ok()) {
      return std::nullopt;
    }
    topics.insert(s.topics.begin(), s.topics.end());
  }
  return topics;
}

StoredGroup ClassicGroup::ToStored() const {
  StoredGroup g;
  g.protocol_type = protocol_type;
  g.generation = generation;
  g.protocol = protocol;
  g.leader = leader;
  g.state_ms = state_ms;
  for (const auto& [mid, m] : members) {
    StoredMember s;
    s.member_id = m.id;
    s.instance_id = m.instance_id;
    s.client_id = m.client_id;
    s.client_host = m.client_host;
    s.rebalance_timeout_ms = m.rebalance_timeout_ms;
    s.session_timeout_ms = m.session_timeout_ms;
    if (protocol) s.subscription = m.MetadataFor(*protocol);
    s.assignment = m.assignment;
    g.members.push_back(std::move(s));
  }
  return g;
}

}  // namespace fjord::coordinator
