#pragma once
// A member of a classic consumer group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, with
// eager rebalancing as Kafka's consumers did before KIP-429): joins with its topics, takes
// the leader's part when elected (assigning every member with "range" or "roundrobin"),
// heartbeats on a thread of its own, and commits offsets under its generation.
//
// The owner polls `rebalance_needed()` between fetches; when it turns true the owner
// commits what it consumed (its partitions are about to be taken away) and calls Join()
// again for its new partitions.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/client/assignor.h"
#include "fjord/client/client.h"

namespace fjord::client {

struct GroupMemberOptions {
  std::string group;
  std::vector<std::string> topics;
  // Offered in order of preference; the coordinator picks one every member offers.
  std::vector<std::string> assignors = {kRangeAssignor, kRoundRobinAssignor};
  std::chrono::milliseconds session_timeout{45000};     // session.timeout.ms
  std::chrono::milliseconds rebalance_timeout{300000};  // max.poll.interval.ms
  std::chrono::milliseconds heartbeat_interval{3000};   // heartbeat.interval.ms
};

class GroupMember {
 public:
  GroupMember(Client& client, GroupMemberOptions options);
  // Stops heartbeating; the session then expires unless Leave() was called.
  ~GroupMember();
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  // Joins the group, or rejoins it after a rebalance, and returns this member's
  // partitions. Blocks while the coordinator waits for the other members.
  absl::StatusOr<TopicPartitions> Join();

  // True once the coordinator has started a rebalance or dropped this member.
  bool rebalance_needed() const;

  // Commits `offsets` (topic: partition: next offset to read) as this member of the
  // current generation.
  absl::Status Commit(const std::map<std::string, std::map<int32_t, int64_t>>& offsets);

  // Leaves the group, so the others rebalance at once instead of after the session
  // timeout.
  absl::Status Leave();

  std::string member_id() const;
  int32_t generation() const;
  // The assignor the coordinator chose at the last join.
  std::string assignor() const;

 private:
  // One JoinGroup + SyncGroup; kUnavailable when the rebalance must start over.
  absl::StatusOr<TopicPartitions> JoinOnce();
  // The leader's part: every member's partitions, encoded for SyncGroup.
  absl::StatusOr<std::map<std::string, std::vector<uint8_t>>> AssignAll(
      const std::string& assignor, const std::map<std::string, std::set<std::string>>& members);
  void HeartbeatLoop();
  void StopHeartbeats();

  Client& client_;
  const GroupMemberOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string member_id_;
  int32_t generation_ = -1;
  std::string assignor_;
  bool joined_ = false;  // heartbeats run only while joined
  bool rebalance_needed_ = false;
  bool stopping_ = false;
  std::thread heartbeats_;  // last: started once the rest exists
};

}  // namespace fjord::client
