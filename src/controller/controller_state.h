#pragma once
// The controller's internals, shared by its command files: the current image, the commit
// step, and the error values commands answer with.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/metadata/metadata_record.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::controller {

// Why an item of a command failed, as the response states it.
struct Failure {
  protocol::ErrorCode code;
  std::string message;
};

// A random topic or incarnation id: version 4, never zero or Kafka's reserved ids.
protocol::Uuid RandomUuid();

// The failure every item of a command gets when the commit of its records failed.
Failure CommitFailure(const absl::Status& status);

// Sets the error fields every per-item result of the admin responses has.
template <typename Result>
void SetFailure(Result& result, const Failure& failure) {
  result.error_code = protocol::Code(failure.code);
  result.error_message = failure.message;
}

struct ControllerState {
  raft::RaftClient* raft = nullptr;
  QuorumController::Publisher publisher;
  QuorumController::Options options;
  int64_t broker_epoch = -1;  // this node's registration

  // The newest committed image; written on the controller thread only.
  mutable std::mutex image_mu;
  std::shared_ptr<const metadata::MetadataImage> image = metadata::MetadataImage::Empty();

  // The command queue. A command gets nullptr to run, or the failure to answer with.
  using Command = absl::AnyInvocable<void(const Failure* cancelled)>;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Command> queue;
  bool running = false;
  bool stopped = false;
  std::thread thread;

  std::shared_ptr<const metadata::MetadataImage> Image() const;
  // Replays `records` onto the current image (a failure there is a bug in the command),
  // commits them as one batch, installs and publishes the next image. Returns the offset
  // of the last record.
  absl::StatusOr<Offset> Commit(const std::vector<metadata::MetadataRecord>& records);
};

// The commands (topic_control.cc, config_control.cc). Each answers every item with
// `cancelled` when it is set, else validates against the image and commits.
protocol::CreateTopicsResponse RunCreateTopics(ControllerState& s,
                                               const protocol::CreateTopicsRequest& request,
                                               int16_t version, const Failure* cancelled);
protocol::DeleteTopicsResponse RunDeleteTopics(ControllerState& s,
                                               const protocol::DeleteTopicsRequest& request,
                                               int16_t version, const Failure* cancelled);
protocol::CreatePartitionsResponse RunCreatePartitions(
    ControllerState& s, const protocol::CreatePartitionsRequest& request, const Failure* cancelled);
std::vector<std::pair<std::string, protocol::ErrorCode>> RunAutoCreateTopics(
    ControllerState& s, const std::vector<std::string>& names, const Failure* cancelled);
protocol::ErrorCode RunCreateInternalTopic(ControllerState& s, const std::string& name,
                                           int32_t partitions, int16_t replication_factor,
                                           const std::map<std::string, std::string>& configs,
                                           const Failure* cancelled);
protocol::AlterConfigsResponse RunAlterConfigs(ControllerState& s,
                                               const protocol::AlterConfigsRequest& request,
                                               const Failure* cancelled);
protocol::IncrementalAlterConfigsResponse RunIncrementalAlterConfigs(
    ControllerState& s, const protocol::IncrementalAlterConfigsRequest& request,
    const Failure* cancelled);

}  // namespace fjord::controller
