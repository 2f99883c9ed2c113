#pragma once
// The network front of a node: listeners, connections and Kafka framing. It knows frames
// (int32 size + bytes), not API semantics: each complete request frame goes to the
// RequestHandler, and each reply goes back in request order on its connection.
//
// Threading: listeners accept on loop 0 and hand each connection to a loop in turn; a
// connection is then touched only on its loop. The handler is called on the connection's
// loop and may complete the reply from any thread (the connection posts it home).
//
// Limits (principle 9): a frame above `max_frame_bytes` closes the connection before any
// of it is buffered; at most `max_inflight_requests` requests and `max_inflight_bytes`
// request bytes are in the handler per connection, and at most
// `max_queued_request_bytes` over all connections (Kafka's memory pool) — past either the
// connection stops reading (back-pressure on the client's TCP window) until replies are
// written; a connection idle for `max_idle_ms` is closed. An idle connection holds no read
// buffer.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/byte_buffer.h"
#include "fjord/net/event_loops.h"

namespace fjord::net {

struct ListenerSpec {
  std::string name;               // e.g. "PLAINTEXT"
  std::string host;               // "" = every interface
  uint16_t port = 0;              // 0 = any free port
  int16_t security_protocol = 0;  // Kafka's numbering; only PLAINTEXT (0) is served today
};

struct BoundListener {
  ListenerSpec spec;  // with the port actually bound
};

struct ConnectionLimits {
  int32_t max_frame_bytes = 100 * 1024 * 1024;     // socket.request.max.bytes
  int64_t max_idle_ms = 600000;                    // connections.max.idle.ms
  int32_t max_inflight_requests = 500;             // queued.max.requests (per connection)
  int64_t max_inflight_bytes = 200 * 1024 * 1024;  // per connection: 2 frames
  // queued.max.request.bytes: request bytes in flight over the whole broker; <= 0 is no
  // bound (Kafka's default, -1). One request larger than what is left still goes through
  // while anything is left, so no frame size can wedge the broker.
  int64_t max_queued_request_bytes = -1;
  int32_t send_buffer_bytes = 102400;     // socket.send.buffer.bytes; -1 = OS default
  int32_t receive_buffer_bytes = 102400;  // socket.receive.buffer.bytes
  // max.connections: at the limit the listeners stop accepting (new connections wait in
  // the kernel's backlog, as behind Kafka's blocked acceptor) until one closes.
  int32_t max_connections = INT32_MAX;
  // max.connections.per.ip: a connection past it is closed at once, with a log line.
  int32_t max_connections_per_ip = INT32_MAX;
};

struct RequestContext {
  uint64_t connection_id = 0;
  std::string peer;      // "host:port"
  std::string listener;  // listener name
  int16_t security_protocol = 0;
  size_t loop = 0;  // the connection's loop
};

// Bytes of a file sent with sendfile(2) on plaintext connections. `owner` keeps the file
// open until the bytes are on the socket.
struct FileSlice {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const void> owner;
};

// One response: `bytes` (starting with the int32 size prefix) with file slices spliced in;
// slice i is sent just before bytes[slices[i].first]. The size prefix counts the slices.
struct Outbound {
  std::vector<uint8_t> bytes;
  std::vector<std::pair<size_t, FileSlice>> slices;
};

struct Reply {
  enum class Kind { kRespond, kNoResponse, kClose };
  Kind kind = Kind::kRespond;
  Outbound out;
  std::string close_reason;  // kClose: logged with the peer

  static Reply Respond(Outbound out) { return Reply{Kind::kRespond, std::move(out), {}}; }
  static Reply None() { return Reply{Kind::kNoResponse, {}, {}}; }
  static Reply Close(std::string reason) { return Reply{Kind::kClose, {}, std::move(reason)}; }
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `frame` is one request without its size prefix. `done` must be called exactly once,
  // from any thread.
  virtual void Handle(const RequestContext& ctx, ByteBuffer frame,
                      std::function<void(Reply)> done) = 0;
};

class Server {
 public:
  Server(EventLoops& loops, RequestHandler& handler, ConnectionLimits limits);
  ~Server();

  // Binds (port 0 picks a free port). Fails naming the address when a bind fails.
  absl::StatusOr<std::vector<BoundListener>> Listen(const std::vector<ListenerSpec>& listeners);
  // Starts accepting on every bound listener (the loops must be running).
  void StartAccepting();

  // Graceful stop, step 1: close the listeners and stop reading new requests; requests
  // already read are answered. Call from any thread.
  void StopAccepting();
  // Requests in the handler or responses not yet written, over all connections.
  size_t PendingWork() const;
  // Step 2: close every connection. Call after the loops are idle or from any thread.
  void CloseAll();
  size_t connection_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace fjord::net
