#pragma once
// One TCP connection from the client to one broker: connect (with a timeout), the
// `on_connect` hook, ApiVersions, then pipelined requests answered in order. Lives on the
// client's I/O thread; every method must be called there.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "fjord/client/client.h"

namespace fjord::client {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Done = std::function<void(absl::StatusOr<RawResponse>)>;

  Connection(boost::asio::io_context& io, const Options& options, std::string host, int32_t port);
  ~Connection();

  // Sends `call` at the highest version both sides support (connecting first if needed).
  // `done` runs exactly once: with the response, or with kUnavailable (connection lost:
  // the request may or may not have been processed), kDeadlineExceeded (no answer within
  // the request timeout; the connection is then closed, as Kafka clients do), or
  // kFailedPrecondition (no common version: not sent).
  void Send(std::shared_ptr<const Client::RawCall> call, Done done);
  // Fails everything queued or in flight with `why` and closes the socket.
  void Close(const absl::Status& why);

  bool closed() const { return state_ == State::kClosed; }
  bool ready() const { return state_ == State::kReady; }
  const std::string& address() const { return address_; }
  // The broker's range for `key` (after ApiVersions), or nullopt.
  std::optional<std::pair<int16_t, int16_t>> Versions(protocol::ApiKey key) const;

 private:
  enum class State { kIdle, kConnecting, kReady, kClosed };
  struct Queued {
    std::shared_ptr<const Client::RawCall> call;
    Done done;
  };
  struct InFlight {
    int32_t correlation_id;
    const protocol::ApiInfo* api;
    int16_t version;
    Done done;
    std::chrono::milliseconds timeout;
  };

  void Connect();
  void OnConnected();
  void SendApiVersions();
  void OnApiVersions(absl::StatusOr<RawResponse> r);
  // Encodes and writes a request; `done` gets the answer.
  void Write(const Client::RawCall& call, int16_t version, Done done);
  void WriteFrame(std::vector<uint8_t> frame);
  void WriteNext();
  void ReadHeader();
  void ReadBody(uint32_t size);
  void OnFrame();
  void ArmTimer();

  boost::asio::io_context& io_;
  const Options& options_;
  const std::string host_;
  const int32_t port_;
  const std::string address_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;  // connect timeout, then the oldest request's deadline
  State state_ = State::kIdle;
  int32_t next_correlation_id_ = 1;
  std::deque<Queued> waiting_;  // sent once ApiVersions is answered
  std::deque<InFlight> in_flight_;
  std::deque<std::chrono::steady_clock::time_point> deadlines_;  // of in_flight_, in order
  std::deque<std::vector<uint8_t>> out_;
  bool writing_ = false;
  uint8_t size_buf_[4];
  std::vector<uint8_t> frame_;
  std::map<int16_t, std::pair<int16_t, int16_t>> versions_;
};

}  // namespace fjord::client
