// The controller's lifecycle (start-up replay, registration, the command thread) and the
// commit step every command ends in.

#include "fjord/controller/quorum_controller.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller_state.h"
#include "fjord/base/logging.h"
#include "fjord/base/strings.h"
#include "fjord/raft/raft_client.h"

namespace fjord::controller {

namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("controller");
  return logger;
}

using protocol::ErrorCode;

}  // namespace

protocol::Uuid RandomUuid() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  for (;;) {
    protocol::Uuid id;
    for (size_t i = 0; i < 16; i += 8) {
      uint64_t v = rng();
      for (size_t j = 0; j < 8; ++j) id.bytes[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
    id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // IETF variant
    // Never the zero id, Kafka's reserved metadata-topic id (…01), or an id whose text
    // starts with '-' (command-line tools would read it as an option).
    bool reserved = true;
    for (size_t i = 0; i < 15; ++i) reserved = reserved && id.bytes[i] == 0;
    if (reserved || (id.bytes[0] >> 2) == 62) continue;
    return id;
  }
}

Failure CommitFailure(const absl::Status& status) {
  if (absl::IsFailedPrecondition(status)) {
    return {ErrorCode::kNotController, std::string(status.message())};
  }
  return {ErrorCode::kUnknownServerError,
          absl::StrCat("the metadata log did not commit: ", status.message())};
}

std::shared_ptr<const metadata::MetadataImage> ControllerState::Image() const {
  std::lock_guard<std::mutex> lock(image_mu);
  return image;
}

absl::StatusOr<Offset> ControllerState::Commit(
    const std::vector<metadata::MetadataRecord>& records) {
  metadata::MetadataDelta delta(Image());
  std::vector<std::vector<uint8_t>> values;
  values.reserve(records.size());
  for (const metadata::MetadataRecord& r : records) {
    if (absl::Status st = delta.Replay(r); !st.ok()) {
      Logger().error("refusing to commit an inconsistent {}: {}", metadata::RecordName(r),
                     st.message());
      return absl::InternalError(absl::StrCat("inconsistent record: ", st.message()));
    }
    values.push_back(metadata::EncodeMetadataRecord(r));
  }
  absl::StatusOr<Offset> last = raft->AppendAndCommit(std::move(values));
  if (!last.ok()) {
    Logger().error("metadata commit of {} records failed: {}", records.size(),
                   last.status().message());
    return last.status();
  }
  std::shared_ptr<const metadata::MetadataImage> next = delta.Apply(*last);
  {
    std::lock_guard<std::mutex> lock(image_mu);
    image = next;
  }
  if (publisher) publisher(next);
  return last;
}

QuorumController::QuorumController(raft::RaftClient* raft, Publisher publisher, Options options)
    : state_(std::make_unique<ControllerState>()) {
  state_->raft = raft;
  state_->publisher = std::move(publisher);
  state_->options = options;
}

QuorumController::~QuorumController() { Stop(); }

absl::Status QuorumController::Start(const std::vector<metadata::BrokerEndpoint>& endpoints) {
  ControllerState& s = *state_;
  // 1. Replay what is committed.
  metadata::MetadataDelta delta(metadata::MetadataImage::Empty());
  Offset last(-1);
  size_t count = 0;
  absl::Status replayed =
      s.raft->ReadCommitted(Offset(0), [&](const raft::CommittedBatch& batch) -> absl::Status {
        last = batch.last_offset;
        if (batch.is_control) return absl::OkStatus();
        for (size_t i = 0; i < batch.records.size(); ++i) {
          const int64_t offset = batch.base_offset.value + static_cast<int64_t>(i);
          absl::StatusOr<metadata::MetadataRecord> r =
              metadata::DecodeMetadataRecord(batch.records[i]);
          if (!r.ok()) {
            return absl::DataLossError(absl::StrCat("metadata log record at offset ", offset,
                                                    " is unreadable: ", r.status().message()));
          }
          if (absl::Status st = delta.Replay(*r); !st.ok()) {
            return absl::DataLossError(absl::StrCat("metadata log record at offset ", offset, " (",
                                                    Absl(metadata::RecordName(*r)),
                                                    ") does not apply: ", st.message()));
          }
          ++count;
        }
        return absl::OkStatus();
      });
  if (!replayed.ok()) return replayed;
  {
    std::lock_guard<std::mutex> lock(s.image_mu);
    s.image = delta.Apply(last);
  }
  Logger().info("replayed {} metadata records up to offset {}: {} topics, {} brokers", count,
                last.value, s.image->topics().size(), s.image->brokers().size());
  if (s.publisher) s.publisher(s.image);

  // 2. Feature levels on a fresh log, and this node's registration with a new epoch.
  std::vector<metadata::MetadataRecord> records;
  if (!s.image->FeatureLevel("metadata.version")) {
    protocol::metadata::FeatureLevelRecord f;
    f.name = "metadata.version";
    f.feature_level = kMetadataVersionLevel;
    records.push_back(f);
  }
  protocol::metadata::RegisterBrokerRecord reg;
  reg.broker_id = s.options.node_id;
  reg.incarnation_id = RandomUuid();
  // Kafka's broker epoch is the offset its registration lands at.
  reg.broker_epoch = s.raft->HighWatermark().value + static_cast<int64_t>(records.size());
  for (const metadata::BrokerEndpoint& e : endpoints) {
    protocol::metadata::RegisterBrokerRecord::BrokerEndpoint ep;
    ep.name = e.listener;
    ep.host = e.host;
    ep.port = e.port;
    ep.security_protocol = e.security_protocol;
    reg.end_points.push_back(std::move(ep));
  }
  protocol::metadata::RegisterBrokerRecord::BrokerFeature mv;
  mv.name = "metadata.version";
  mv.min_supported_version = kMetadataVersionLevel;
  mv.max_supported_version = kMetadataVersionLevel;
  reg.features.push_back(mv);
  reg.rack = std::nullopt;
  reg.fenced = false;
  records.push_back(reg);
  absl::StatusOr<Offset> committed = s.Commit(records);
  if (!committed.ok()) return committed.status();
  s.broker_epoch = reg.broker_epoch;
  Logger().info("registered node {} with broker epoch {}", s.options.node_id.value, s.broker_epoch);

  // 3. The command thread.
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.running = true;
  }
  s.thread = std::thread([&s] {
    std::unique_lock<std::mutex> lock(s.mu);
    for (;;) {
      s.cv.wait(lock, [&s] { return s.stopped || !s.queue.empty(); });
      if (s.queue.empty()) return;
      ControllerState::Command command = std::move(s.queue.front());
      s.queue.pop_front();
      const bool stopping = s.stopped;
      lock.unlock();
      static const Failure kStopping{ErrorCode::kNotController, "the controller is stopping"};
      command(stopping ? &kStopping : nullptr);
      lock.lock();
    }
  });
  return absl::OkStatus();
}

void QuorumController::Stop() {
  ControllerState& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.cv.notify_all();
  if (s.thread.joinable()) s.thread.join();
  // Commands queued before Start() never ran: answer them too.
  std::deque<ControllerState::Command> rest;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    rest.swap(s.queue);
  }
  static const Failure kStopped{ErrorCode::kNotController, "the controller is not running"};
  for (ControllerState::Command& c : rest) c(&kStopped);
}

std::shared_ptr<const metadata::MetadataImage> QuorumController::image() const {
  return state_->Image();
}

namespace {

void Submit(ControllerState& s, ControllerState::Command command) {
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.stopped) {
      s.queue.push_back(std::move(command));
      s.cv.notify_one();
      return;
    }
  }
  static const Failure kStopped{ErrorCode::kNotController, "the controller is not running"};
  command(&kStopped);
}

}  // namespace

void QuorumController::CreateTopics(protocol::CreateTopicsRequest request, int16_t version,
                                    std::function<void(protocol::CreateTopicsResponse)> done) {
  ControllerState& s = *state_;
  Submit(s,
         [&s, request = std::move(request), version, done = std::move(done)](
             const Failure* cancelled) { done(RunCreateTopics(s, request, version, cancelled)); });
}

void QuorumController::DeleteTopics(protocol::DeleteTopicsRequest request, int16_t version,
                                    std::function<void(protocol::DeleteTopicsResponse)> done) {
  ControllerState& s = *state_;
  Submit(s,
         [&s, request = std::move(request), version, done = std::move(done)](
             const Failure* cancelled) { done(RunDeleteTopics(s, request, version, cancelled)); });
}

void QuorumController::CreatePartitions(
    protocol::CreatePartitionsRequest request, int16_t /*version*/,
    std::function<void(protocol::CreatePartitionsResponse)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, request = std::move(request), done = std::move(done)](const Failure* cancelled) {
    done(RunCreatePartitions(s, request, cancelled));
  });
}

void QuorumController::AlterConfigs(protocol::AlterConfigsRequest request, int16_t /*version*/,
                                    std::function<void(protocol::AlterConfigsResponse)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, request = std::move(request), done = std::move(done)](const Failure* cancelled) {
    done(RunAlterConfigs(s, request, cancelled));
  });
}

void QuorumController::IncrementalAlterConfigs(
    protocol::IncrementalAlterConfigsRequest request, int16_t /*version*/,
    std::function<void(protocol::IncrementalAlterConfigsResponse)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, request = std::move(request), done = std::move(done)](const Failure* cancelled) {
    done(RunIncrementalAlterConfigs(s, request, cancelled));
  });
}

void QuorumController::AutoCreateTopics(
    std::vector<std::string> names,
    std::function<void(std::vector<std::pair<std::string, protocol::ErrorCode>>)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, names = std::move(names), done = std::move(done)](const Failure* cancelled) {
    done(RunAutoCreateTopics(s, names, cancelled));
  });
}

void QuorumController::CreateInternalTopic(std::string name, int32_t partitions,
                                           int16_t replication_factor,
                                           std::map<std::string, std::string> configs,
                                           std::function<void(protocol::ErrorCode)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, name = std::move(name), partitions, replication_factor,
             configs = std::move(configs), done = std::move(done)](const Failure* cancelled) {
    done(RunCreateInternalTopic(s, name, partitions, replication_factor, configs, cancelled));
  });
}

void QuorumController::AllocateProducerIds(
    int32_t count, std::function<void(absl::StatusOr<std::pair<int64_t, int64_t>>)> done) {
  ControllerState& s = *state_;
  Submit(s, [&s, count, done = std::move(done)](const Failure* cancelled) {
    if (cancelled) return done(absl::FailedPreconditionError(cancelled->message));
    if (count <= 0) return done(absl::InvalidArgumentError("producer id block must be > 0"));
    const int64_t first = s.Image()->next_producer_id();
    protocol::metadata::ProducerIdsRecord r;
    r.broker_id = s.options.node_id;
    r.broker_epoch = s.broker_epoch;
    r.next_producer_id = ProducerId(first + count);
    absl::StatusOr<Offset> committed = s.Commit({r});
    if (!committed.ok()) return done(committed.status());
    done(std::make_pair(first, first + count));
  });
}

}  // namespace fjord::controller
