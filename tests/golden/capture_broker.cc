// capture_broker: a minimal stand-in broker that records the requests real Kafka clients
// send, for the golden-bytes fixtures of the protocol tests.
//
// It listens on 127.0.0.1, answers just enough for a client to get through start-up,
// produce and join a consumer group (ApiVersions, Metadata, Produce, FindCoordinator,
// JoinGroup, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, ListOffsets, Fetch,
// LeaveGroup, InitProducerId), and writes the first request frame of every
// (client id, API, version) to OUT_DIR/<client-id>/<Api>-v<version>.bin. Its replies are
// built with Fjord's generated encoders, so a client accepting them is itself a check.
//
// Usage: capture_broker OUT_DIR [SECONDS]   (prints "port N" on stdout once listening)
// It is test tooling, not a broker: single-threaded, everything in memory, one topic
// partition per topic, and it stops after SECONDS (default 60).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fjord/protocol/api_keys.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"
#include "fjord/protocol/messages/fetch_request.h"
#include "fjord/protocol/messages/fetch_response.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/heartbeat_response.h"
#include "fjord/protocol/messages/init_producer_id_response.h"
#include "fjord/protocol/messages/join_group_request.h"
#include "fjord/protocol/messages/join_group_response.h"
#include "fjord/protocol/messages/leave_group_response.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"
#include "fjord/protocol/messages/metadata_request.h"
#include "fjord/protocol/messages/metadata_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
#include "fjord/protocol/messages/request_header.h"
#include "fjord/protocol/messages/response_header.h"
#include "fjord/protocol/messages/sync_group_request.h"
#include "fjord/protocol/messages/sync_group_response.h"

namespace fp = fjord::protocol;

namespace {

// The ranges this stand-in advertises: what the four client families need (see the
// protocol README's client notes), capped where the stand-in does not model a feature.
struct Advertised {
  fp::ApiKey key;
  int16_t min, max;
};
constexpr Advertised kAdvertised[] = {
    {fp::ApiKey::kProduce, 0, 11},        {fp::ApiKey::kFetch, 4, 12},
    {fp::ApiKey::kListOffsets, 1, 10},    {fp::ApiKey::kMetadata, 0, 12},
    {fp::ApiKey::kOffsetCommit, 2, 9},    {fp::ApiKey::kOffsetFetch, 1, 9},
    {fp::ApiKey::kFindCoordinator, 0, 6}, {fp::ApiKey::kJoinGroup, 0, 9},
    {fp::ApiKey::kHeartbeat, 0, 4},       {fp::ApiKey::kLeaveGroup, 0, 5},
    {fp::ApiKey::kSyncGroup, 0, 5},       {fp::ApiKey::kApiVersions, 0, 3},
    {fp::ApiKey::kInitProducerId, 0, 5},
};

struct Conn {
  int fd;
  std::vector<uint8_t> in;
};

class CaptureBroker {
 public:
  CaptureBroker(std::filesystem::path out, uint16_t port) : out_(std::move(out)), port_(port) {}

  // Handles one complete request frame (without its length prefix); returns the
  // response frame (with length prefix), empty for acks=0 produce or a bad frame.
  std::vector<uint8_t> Handle(std::span<const uint8_t> frame) {
    if (frame.size() < 8) return {};
    int16_t key = static_cast<int16_t>(frame[0] << 8 | frame[1]);
    int16_t version = static_cast<int16_t>(frame[2] << 8 | frame[3]);
    const fp::ApiInfo* api = fp::FindApi(key);
    if (api == nullptr) return {};
    fp::RequestHeader header;
    size_t header_len = 0;
    if (!fp::DecodeMessage(frame, fp::RequestHeaderVersion(*api, version), &header, &header_len)
             .ok()) {
      return {};
    }
    Record(header, *api, version, frame);
    std::span<const uint8_t> body = frame.subspan(header_len);
    switch (api->key) {
      case fp::ApiKey::kApiVersions:
        return ApiVersions(header, version);
      case fp::ApiKey::kMetadata:
        return Metadata(header, version, body);
      case fp::ApiKey::kProduce:
        return Produce(header, version, body);
      case fp::ApiKey::kFindCoordinator:
        return FindCoordinator(header, version);
      case fp::ApiKey::kJoinGroup:
        return JoinGroup(header, version, body);
      case fp::ApiKey::kSyncGroup:
        return SyncGroup(header, version, body);
      case fp::ApiKey::kHeartbeat:
        return Reply(header, version, fp::HeartbeatResponse{});
      case fp::ApiKey::kLeaveGroup:
        return Reply(header, version, fp::LeaveGroupResponse{});
      case fp::ApiKey::kOffsetFetch:
        return OffsetFetch(header, version, body);
      case fp::ApiKey::kOffsetCommit:
        return OffsetCommit(header, version, body);
      case fp::ApiKey::kListOffsets:
        return ListOffsets(header, version, body);
      case fp::ApiKey::kFetch:
        return Fetch(header, version, body);
      case fp::ApiKey::kInitProducerId: {
        fp::InitProducerIdResponse r;
        r.producer_id = fjord::ProducerId(1000);
        r.producer_epoch = fjord::ProducerEpoch(0);
        return Reply(header, version, r);
      }
      default:
        return {};
    }
  }

 private:
  void Record(const fp::RequestHeader& h, const fp::ApiInfo& api, int16_t version,
              std::span<const uint8_t> frame) {
    std::string client = h.client_id.value_or("null");
    for (char& c : client) {
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
    }
    std::string name = std::string(api.name) + "-v" + std::to_string(version) + ".bin";
    if (!seen_.insert(client + "/" + name).second) return;
    std::filesystem::create_directories(out_ / client);
    std::ofstream f(out_ / client / name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(frame.data()),
            static_cast<std::streamsize>(frame.size()));
  }

  template <typename Response>
  std::vector<uint8_t> Reply(const fp::RequestHeader& h, int16_t version, const Response& r) {
    const fp::ApiInfo* api = fp::FindApi(h.request_api_key);
    fp::ResponseHeader rh;
    rh.correlation_id = h.correlation_id;
    int16_t hv = fp::ResponseHeaderVersion(*api, version);
    size_t n = rh.EncodedSize(hv) + r.EncodedSize(version);
    std::vector<uint8_t> out{static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    fp::EncodeMessage(rh, hv, &out);
    fp::EncodeMessage(r, version, &out);
    return out;
  }

  template <typename Request>
  bool Parse(std::span<const uint8_t> body, int16_t version, Request* req) {
    absl::Status st = fp::DecodeMessage(body, version, req);
    if (!st.ok()) std::fprintf(stderr, "capture_broker: %s\n", std::string(st.message()).c_str());
    return st.ok();
  }

  std::vector<uint8_t> ApiVersions(const fp::RequestHeader& h, int16_t version) {
    fp::ApiVersionsResponse r;
    if (version > 3) {
      // KIP-511: answer an unknown version in the v0 format with UNSUPPORTED_VERSION.
      r.error_code = 35;
      version = 0;
    }
    for (const auto& a : kAdvertised) {
      fp::ApiVersionsResponse::ApiVersion v;
      v.api_key = static_cast<int16_t>(a.key);
      v.min_version = a.min;
      v.max_version = a.max;
      r.api_keys.push_back(v);
    }
    return Reply(h, version, r);
  }

  fp::Uuid TopicId(const std::string& name) {
    fp::Uuid id;
    for (size_t i = 0; i < name.size(); ++i) id.bytes[i % 16] ^= static_cast<uint8_t>(name[i]);
    id.bytes[15] |= 1;
    return id;
  }

  std::vector<uint8_t> Metadata(const fp::RequestHeader& h, int16_t version,
                                std::span<const uint8_t> body) {
    fp::MetadataRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::MetadataResponse r;
    fp::MetadataResponse::MetadataResponseBroker b;
    b.node_id = fjord::NodeId(0);
    b.host = "127.0.0.1";
    b.port = port_;
    r.brokers.push_back(b);
    r.cluster_id = "capture-cluster";
    r.controller_id = fjord::NodeId(0);
    std::vector<std::string> names;
    if (req.topics) {
      for (const auto& t : *req.topics) names.push_back(t.name.value_or(""));
    }
    if (names.empty()) names.push_back("golden");
    for (const auto& name : names) {
      fp::MetadataResponse::MetadataResponseTopic t;
      t.name = name;
      t.topic_id = TopicId(name);
      fp::MetadataResponse::MetadataResponsePartition p;
      p.partition_index = fjord::PartitionId(0);
      p.leader_id = fjord::NodeId(0);
      p.leader_epoch = fjord::LeaderEpoch(0);
      p.replica_nodes = {fjord::NodeId(0)};
      p.isr_nodes = {fjord::NodeId(0)};
      t.partitions.push_back(p);
      r.topics.push_back(t);
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> Produce(const fp::RequestHeader& h, int16_t version,
                               std::span<const uint8_t> body) {
    fp::ProduceRequest req;
    if (!Parse(body, version, &req)) return {};
    if (req.acks == 0) return {};
    fp::ProduceResponse r;
    for (const auto& t : req.topic_data) {
      fp::ProduceResponse::TopicProduceResponse tr;
      tr.name = t.name;
      for (const auto& p : t.partition_data) {
        fp::ProduceResponse::PartitionProduceResponse pr;
        pr.index = p.index;
        pr.base_offset = fjord::Offset(next_offset_);
        next_offset_ += 1000;
        tr.partition_responses.push_back(pr);
      }
      r.responses.push_back(tr);
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> FindCoordinator(const fp::RequestHeader& h, int16_t version) {
    fp::FindCoordinatorResponse r;
    r.node_id = fjord::NodeId(0);
    r.host = "127.0.0.1";
    r.port = port_;
    if (version >= 4) {
      // Batched form (v4+): the capture clients ask for one key at a time, so one
      // coordinator entry answers them; the request body is not read.
      fp::FindCoordinatorResponse::Coordinator c;
      c.node_id = fjord::NodeId(0);
      c.host = "127.0.0.1";
      c.port = port_;
      r.coordinators.push_back(c);
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> JoinGroup(const fp::RequestHeader& h, int16_t version,
                                 std::span<const uint8_t> body) {
    fp::JoinGroupRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::JoinGroupResponse r;
    std::string member = req.member_id.empty() ? "member-1" : req.member_id;
    r.generation_id = 1;
    r.protocol_type = req.protocol_type;
    r.protocol_name = req.protocols.empty() ? "" : req.protocols[0].name;
    r.leader = member;
    r.member_id = member;
    fp::JoinGroupResponse::JoinGroupResponseMember m;
    m.member_id = member;
    if (!req.protocols.empty()) m.metadata = req.protocols[0].metadata;
    r.members.push_back(m);
    return Reply(h, version, r);
  }

  std::vector<uint8_t> SyncGroup(const fp::RequestHeader& h, int16_t version,
                                 std::span<const uint8_t> body) {
    fp::SyncGroupRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::SyncGroupResponse r;
    r.protocol_type = req.protocol_type;
    r.protocol_name = req.protocol_name;
    for (const auto& a : req.assignments) {
      if (a.member_id == req.member_id) r.assignment = a.assignment;
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> OffsetFetch(const fp::RequestHeader& h, int16_t version,
                                   std::span<const uint8_t> body) {
    fp::OffsetFetchRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::OffsetFetchResponse r;
    auto fill = [](const auto& topics, auto* out_topics) {
      for (const auto& t : topics) {
        auto& ot = out_topics->emplace_back();
        ot.name = t.name;
        for (auto p : t.partition_indexes) {
          auto& op = ot.partitions.emplace_back();
          op.partition_index = p;
          op.committed_offset = fjord::Offset(-1);
        }
      }
    };
    if (req.topics) fill(*req.topics, &r.topics);
    for (const auto& g : req.groups) {
      auto& og = r.groups.emplace_back();
      og.group_id = g.group_id;
      if (g.topics) fill(*g.topics, &og.topics);
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> OffsetCommit(const fp::RequestHeader& h, int16_t version,
                                    std::span<const uint8_t> body) {
    fp::OffsetCommitRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::OffsetCommitResponse r;
    for (const auto& t : req.topics) {
      auto& ot = r.topics.emplace_back();
      ot.name = t.name;
      for (const auto& p : t.partitions)
        ot.partitions.emplace_back().partition_index = p.partition_index;
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> ListOffsets(const fp::RequestHeader& h, int16_t version,
                                   std::span<const uint8_t> body) {
    fp::ListOffsetsRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::ListOffsetsResponse r;
    for (const auto& t : req.topics) {
      auto& ot = r.topics.emplace_back();
      ot.name = t.name;
      for (const auto& p : t.partitions) {
        auto& op = ot.partitions.emplace_back();
        op.partition_index = p.partition_index;
        op.offset = fjord::Offset(0);
        op.old_style_offsets = {0};
      }
    }
    return Reply(h, version, r);
  }

  std::vector<uint8_t> Fetch(const fp::RequestHeader& h, int16_t version,
                             std::span<const uint8_t> body) {
    fp::FetchRequest req;
    if (!Parse(body, version, &req)) return {};
    fp::FetchResponse r;
    for (const auto& t : req.topics) {
      auto& ot = r.responses.emplace_back();
      ot.topic = t.topic;
      ot.topic_id = t.topic_id;
      for (const auto& p : t.partitions) {
        auto& op = ot.partitions.emplace_back();
        op.partition_index = p.partition;
        op.high_watermark = fjord::Offset(0);
        op.last_stable_offset = fjord::Offset(0);
        op.records = fp::RecordsView::Of({});
      }
    }
    return Reply(h, version, r);
  }

  std::filesystem::path out_;
  uint16_t port_;
  std::set<std::string> seen_;
  int64_t next_offset_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: capture_broker OUT_DIR [SECONDS]\n");
    return 2;
  }
  int seconds = argc > 2 ? std::atoi(argv[2]) : 60;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 64) != 0) {
    std::perror("capture_broker: listen");
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = ntohs(addr.sin_port);
  std::printf("port %u\n", port);
  std::fflush(stdout);

  CaptureBroker broker(argv[1], port);
  std::vector<Conn> conns;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds{{lfd, POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 200) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int fd = accept(lfd, nullptr, nullptr);
      if (fd >= 0) conns.push_back({fd, {}});
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Conn& c = conns[i - 1];
      uint8_t buf[65536];
      ssize_t n = read(c.fd, buf, sizeof(buf));
      if (n <= 0) {
        close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.insert(c.in.end(), buf, buf + n);
      while (c.in.size() >= 4) {
        uint32_t size =
            uint32_t{c.in[0]} << 24 | uint32_t{c.in[1]} << 16 | uint32_t{c.in[2]} << 8 | c.in[3];
        if (size > (64u << 20)) {
          close(c.fd);
          c.fd = -1;
          break;
        }
        if (c.in.size() < 4 + size) break;
        std::vector<uint8_t> reply = broker.Handle(std::span<const uint8_t>(c.in.data() + 4, size));
        c.in.erase(c.in.begin(), c.in.begin() + 4 + size);
        for (size_t off = 0; off < reply.size();) {
          ssize_t w = write(c.fd, reply.data() + off, reply.size() - off);
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
  }
  for (const auto& c : conns) close(c.fd);
  close(lfd);
  return 0;
}
