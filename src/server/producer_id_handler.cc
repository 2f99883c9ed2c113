// InitProducerId for idempotent producers (KIP-98): each call gets a fresh producer id
// with epoch 0, as Kafka answers producers without a transactional id. Ids come from
// blocks reserved in the metadata log (QuorumController::AllocateProducerIds), so an id
// is never handed out twice, even across restarts. Transactional ids go to their
// transaction coordinator (txn_handlers.cc), which takes its ids from the same source.

#include <deque>
#include <mutex>

#include "broker.h"
#include "fjord/base/logging.h"
#include "fjord/protocol/messages/init_producer_id_request.h"
#include "fjord/protocol/messages/init_producer_id_response.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

// Kafka reserves producer ids 1000 at a time.
constexpr int32_t kBlockSize = 1000;

}  // namespace

struct ProducerIdSource::State {
  std::mutex mu;
  int64_t next = 0;
  int64_t end = 0;  // [next, end) is the current block
  bool fetching = false;
  std::deque<std::function<void(absl::StatusOr<int64_t>)>> waiting;
};

ProducerIdSource::ProducerIdSource(controller::QuorumController& controller)
    : controller_(controller), state_(std::make_shared<State>()) {}

void ProducerIdSource::Next(std::function<void(absl::StatusOr<int64_t>)> done) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->next < state_->end) {
      const int64_t id = state_->next++;
      done(id);
      return;
    }
    state_->waiting.push_back(std::move(done));
    if (state_->fetching) return;
    state_->fetching = true;
  }
  controller_.AllocateProducerIds(
      kBlockSize, [state = state_](absl::StatusOr<std::pair<int64_t, int64_t>> block) {
        std::deque<std::function<void(absl::StatusOr<int64_t>)>> served;
        std::vector<absl::StatusOr<int64_t>> ids;
        {
          std::lock_guard lock(state->mu);
          state->fetching = false;
          if (block.ok()) {
            state->next = block->first;
            state->end = block->second;
          }
          while (!state->waiting.empty()) {
            if (block.ok() && state->next >= state->end) break;  // the rest wait for more
            served.push_back(std::move(state->waiting.front()));
            state->waiting.pop_front();
            ids.push_back(block.ok() ? absl::StatusOr<int64_t>(state->next++) : block.status());
          }
        }
        for (size_t i = 0; i < served.size(); ++i) served[i](ids[i]);
      });
}

void HandleInitProducerId(Broker& b, RequestPtr r) {
  protocol::InitProducerIdRequest req;
  if (!DecodeBody(*r, &req)) return;
  if (req.transactional_id.has_value()) {
    InitTransactionalProducer(b, r, *req.transactional_id, req.transaction_timeout_ms,
                              req.producer_id, req.producer_epoch);
    return;
  }
  b.producer_ids->Next([&b, r](absl::StatusOr<int64_t> id) {
    protocol::InitProducerIdResponse resp;
    if (id.ok()) {
      resp.producer_id = ProducerId(*id);
      resp.producer_epoch = ProducerEpoch(0);
    } else {
      NamedLogger("kafka-apis").warn("no producer id: {}", id.status().message());
      resp.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
    }
    OnConnectionLoop(b, r, [r, resp] { Respond(*r, resp); });
  });
}

}  // namespace fjord::server
