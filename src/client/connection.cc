#include "connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"
#include "fjord/protocol/messages/request_header.h"
#include "fjord/protocol/messages/response_header.h"

namespace fjord::client {

namespace asio = boost::asio;
using asio::ip::tcp;
using protocol::ErrorCode;

namespace {

std::string ErrName(ErrorCode e) { return std::string(protocol::ErrorName(e)); }

// A response larger than this is taken for garbage (a non-Kafka peer, a TLS listener).
constexpr uint32_t kMaxResponseBytes = 256u << 20;

}  // namespace

Connection::Connection(asio::io_context& io, const Options& options, std::string host, int32_t port)
    : io_(io),
      options_(options),
      host_(std::move(host)),
      port_(port),
      address_(absl::StrCat(host_, ":", port_)),
      resolver_(io),
      socket_(io),
      timer_(io) {}

Connection::~Connection() = default;

std::optional<std::pair<int16_t, int16_t>> Connection::Versions(protocol::ApiKey key) const {
  auto it = versions_.find(static_cast<int16_t>(key));
  if (it == versions_.end()) return std::nullopt;
  return it->second;
}

void Connection::Send(std::shared_ptr<const Client::RawCall> call, Done done) {
  switch (state_) {
    case State::kClosed:
      done(absl::UnavailableError(absl::StrCat(address_, ": connection closed")));
      return;
    case State::kIdle:
      waiting_.push_back({std::move(call), std::move(done)});
      Connect();
      return;
    case State::kConnecting:
      waiting_.push_back({std::move(call), std::move(done)});
      return;
    case State::kReady:
      break;
  }
  std::optional<std::pair<int16_t, int16_t>> theirs = Versions(call->key);
  const protocol::ApiInfo* api = protocol::FindApi(static_cast<int16_t>(call->key));
  const std::string name(api ? api->name : "unknown API");
  if (!theirs) {
    done(absl::FailedPreconditionError(
        absl::StrCat(address_, " does not support ", name, " (UNSUPPORTED_VERSION)")));
    return;
  }
  const int16_t version = std::min(call->max_version, theirs->second);
  if (version < call->min_version || version < theirs->first) {
    done(absl::FailedPreconditionError(absl::StrCat(
        address_, " supports ", name, " v", theirs->first, "-", theirs->second, ", this client v",
        call->min_version, "-", call->max_version, " (UNSUPPORTED_VERSION)")));
    return;
  }
  Write(*call, version, std::move(done));
}

void Connection::Connect() {
  state_ = State::kConnecting;
  auto self = shared_from_this();
  timer_.expires_after(options_.connect_timeout);
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::kConnecting) return;
    self->Close(absl::DeadlineExceededError(absl::StrCat(
        self->address_, ": no connection within ", self->options_.connect_timeout.count(), " ms")));
  });
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        if (self->state_ != State::kConnecting) return;
        if (ec) {
          return self->Close(absl::UnavailableError(
              absl::StrCat(self->address_, ": cannot resolve ", self->host_, ": ", ec.message())));
        }
        asio::async_connect(self->socket_, results,
                            [self](const boost::system::error_code& ec, const tcp::endpoint&) {
                              if (self->state_ != State::kConnecting) return;
                              if (ec) {
                                return self->Close(absl::UnavailableError(
                                    absl::StrCat(self->address_, ": ", ec.message())));
                              }
                              self->OnConnected();
                            });
      });
}

void Connection::OnConnected() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  if (options_.on_connect) {
    if (absl::Status s = options_.on_connect(socket_.native_handle(), host_); !s.ok()) {
      return Close(s);
    }
  }
  ReadHeader();
  SendApiVersions();
}

void Connection::SendApiVersions() {
  // v3 (KIP-511); a broker without it answers UNSUPPORTED_VERSION with its ranges in the
  // v0 layout.
  Client::RawCall call;
  call.key = protocol::ApiKey::kApiVersions;
  call.encode = [](int16_t version, std::vector<uint8_t>* out) {
    protocol::ApiVersionsRequest req;
    req.client_software_name = "fjord";
    req.client_software_version = FJORD_CLIENT_VERSION;
    protocol::EncodeMessage(req, version, out);
  };
  auto self = shared_from_this();
  Write(call, 3, [self](absl::StatusOr<RawResponse> r) { self->OnApiVersions(std::move(r)); });
}

void Connection::OnApiVersions(absl::StatusOr<RawResponse> r) {
  if (!r.ok()) return;  // the connection is closing; everything waiting fails with it
  protocol::ApiVersionsResponse resp;
  absl::Status s = protocol::DecodeMessage(r->body, 3, &resp);
  if (s.ok() && resp.error_code == Code(ErrorCode::kUnsupportedVersion)) {
    resp = {};
    s = protocol::DecodeMessage(r->body, 0, &resp);
  }
  if (!s.ok() || resp.error_code != Code(ErrorCode::kNone)) {
    return Close(absl::UnavailableError(absl::StrCat(
        address_, ": ApiVersions failed: ",
        s.ok() ? ErrName(static_cast<ErrorCode>(resp.error_code)) : std::string(s.message()))));
  }
  for (const auto& v : resp.api_keys) versions_[v.api_key] = {v.min_version, v.max_version};
  state_ = State::kReady;
  std::deque<Queued> waiting;
  waiting.swap(waiting_);
  for (Queued& q : waiting) Send(std::move(q.call), std::move(q.done));
}

void Connection::Write(const Client::RawCall& call, int16_t version, Done done) {
  const protocol::ApiInfo* api = protocol::FindApi(static_cast<int16_t>(call.key));
  protocol::RequestHeader header;
  header.request_api_key = static_cast<int16_t>(call.key);
  header.request_api_version = version;
  header.correlation_id = next_correlation_id_++;
  header.client_id = options_.client_id;
  std::vector<uint8_t> frame(4);
  protocol::EncodeMessage(header, protocol::RequestHeaderVersion(*api, version), &frame);
  call.encode(version, &frame);
  const uint32_t size = static_cast<uint32_t>(frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<uint8_t>(size >> (24 - 8 * i));
  WriteFrame(std::move(frame));
  if (!call.expects_response) {
    done(RawResponse{version, {}});
    return;
  }
  const std::chrono::milliseconds timeout =
      call.timeout.count() > 0 ? call.timeout : options_.request_timeout;
  in_flight_.push_back({header.correlation_id, api, version, std::move(done), timeout});
  deadlines_.push_back(std::chrono::steady_clock::now() + timeout);
  if (deadlines_.size() == 1) ArmTimer();
}

void Connection::WriteFrame(std::vector<uint8_t> frame) {
  out_.push_back(std::move(frame));
  if (!writing_) WriteNext();
}

void Connection::WriteNext() {
  if (out_.empty() || state_ == State::kClosed) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(out_.front()),
                    [self](const boost::system::error_code& ec, size_t) {
                      if (self->state_ == State::kClosed) return;
                      if (ec) {
                        return self->Close(absl::UnavailableError(
                            absl::StrCat(self->address_, ": write failed: ", ec.message())));
                      }
                      self->out_.pop_front();
                      self->WriteNext();
                    });
}

void Connection::ReadHeader() {
  auto self = shared_from_this();
  asio::async_read(
      socket_, asio::buffer(size_buf_), [self](const boost::system::error_code& ec, size_t) {
        if (self->state_ == State::kClosed) return;
        if (ec) {
          return self->Close(absl::UnavailableError(
              absl::StrCat(self->address_, ": connection lost: ", ec.message())));
        }
        uint32_t size = 0;
        for (uint8_t b : self->size_buf_) size = (size << 8) | b;
        if (size < 4 || size > kMaxResponseBytes) {
          return self->Close(
              absl::DataLossError(absl::StrCat(self->address_, ": response of ", size,
                                               " bytes; is this a Kafka listener (without TLS)?")));
        }
        self->ReadBody(size);
      });
}

void Connection::ReadBody(uint32_t size) {
  frame_.resize(size);
  auto self = shared_from_this();
  asio::async_read(socket_, asio::buffer(frame_),
                   [self](const boost::system::error_code& ec, size_t) {
                     if (self->state_ == State::kClosed) return;
                     if (ec) {
                       return self->Close(absl::UnavailableError(
                           absl::StrCat(self->address_, ": connection lost: ", ec.message())));
                     }
                     self->OnFrame();
                     if (self->state_ != State::kClosed) self->ReadHeader();
                   });
}

void Connection::OnFrame() {
  if (in_flight_.empty()) {
    return Close(absl::DataLossError(absl::StrCat(address_, ": a response nobody asked for")));
  }
  InFlight req = std::move(in_flight_.front());
  in_flight_.pop_front();
  deadlines_.pop_front();
  ArmTimer();
  protocol::ResponseHeader header;
  size_t consumed = 0;
  absl::Status s = protocol::DecodeMessage(
      frame_, protocol::ResponseHeaderVersion(*req.api, req.version), &header, &consumed);
  if (s.ok() && header.correlation_id != req.correlation_id) {
    s = absl::DataLossError(
        absl::StrCat("correlation id ", header.correlation_id, ", expected ", req.correlation_id));
  }
  if (!s.ok()) {
    // The stream is out of step: nothing after this can be trusted.
    in_flight_.push_front(std::move(req));
    deadlines_.push_front(std::chrono::steady_clock::now());
    return Close(absl::DataLossError(
        absl::StrCat(address_, ": bad ", std::string(req.api->name), " response: ", s.message())));
  }
  RawResponse out{
      req.version,
      std::vector<uint8_t>(frame_.begin() + static_cast<ptrdiff_t>(consumed), frame_.end())};
  req.done(std::move(out));
}

void Connection::ArmTimer() {
  if (state_ == State::kClosed) return;
  if (deadlines_.empty()) {
    if (state_ == State::kReady) timer_.cancel();
    return;
  }
  timer_.expires_at(deadlines_.front());
  auto self = shared_from_this();
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->state_ == State::kClosed || self->deadlines_.empty()) return;
    if (self->deadlines_.front() > std::chrono::steady_clock::now()) return self->ArmTimer();
    self->Close(absl::DeadlineExceededError(absl::StrCat(
        self->address_, ": no answer to ", std::string(self->in_flight_.front().api->name),
        " within ", self->in_flight_.front().timeout.count(), " ms")));
  });
}

void Connection::Close(const absl::Status& why) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  boost::system::error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  std::deque<Queued> waiting;
  waiting.swap(waiting_);
  std::deque<InFlight> in_flight;
  in_flight.swap(in_flight_);
  deadlines_.clear();
  out_.clear();
  for (Queued& q : waiting) q.done(why);
  for (InFlight& f : in_flight) f.done(why);
}

}  // namespace fjord::client
