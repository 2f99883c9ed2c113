#pragma once
// One client connection: reads size-prefixed frames, hands them to the RequestHandler,
// and writes the replies in request order (writev for memory, sendfile for file slices).
// Lives on one event loop; every member is touched only there. Owned by shared_ptr:
// pending async operations and handler completions hold it alive.

#include <sys/uio.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fjord/net/server.h"
#include "request_memory_pool.h"

namespace fjord::net {

class ConnectionRegistry;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, RequestContext ctx, RequestHandler& handler,
             const ConnectionLimits& limits, ConnectionRegistry& registry, RequestMemoryPool& pool);

  void Start();
  // Stop reading new requests; answer those already read. Loop thread only.
  void StopReading();
  void Close(const std::string& reason, bool log_it);
  const RequestContext& context() const { return ctx_; }

 private:
  struct Slot {
    bool done = false;
    Reply reply;
    size_t bytes = 0;
  };

  void StartRead();
  // The socket is readable and no frame is being read into its own buffer: reads into the
  // shared buffer (taken from the loop's cache now, so an idle connection holds none).
  void OnReadable(const boost::system::error_code& ec);
  void OnBigFrameRead(const boost::system::error_code& ec, size_t n);
  void OnReadError(const boost::system::error_code& ec);
  // Gives the read buffer back to the loop's cache when it holds nothing.
  void MaybeReleaseReadBuffer();
  // Takes a frame's bytes from the broker-wide pool; false (and a wake-up armed) when it
  // is spent.
  bool Reserve(size_t bytes);
  void OnMemoryGranted(size_t bytes);
  // Dispatches every complete frame in the read buffer while under the in-flight limits.
  void ProcessBuffer();
  void Dispatch(ByteBuffer frame);
  void Complete(uint64_t seq, Reply reply);
  bool Paused() const;
  // Writes finished replies in request order, then resumes reading if that freed room.
  void WritePump();
  void WriteReplies();
  void Retire(size_t request_bytes);
  // Writes as much of the current response as the socket takes. Returns false when the
  // socket would block (a wait is armed) or failed (the connection is closed).
  bool WriteCurrent();
  void ArmIdleTimer();
  void Touch() { last_activity_ = std::chrono::steady_clock::now(); }

  boost::asio::ip::tcp::socket socket_;
  int fd_;
  RequestContext ctx_;
  RequestHandler& handler_;
  const ConnectionLimits& limits_;
  ConnectionRegistry& registry_;
  RequestMemoryPool& pool_;

  // Small frames are parsed out of read_buf_; a frame larger than it gets its own buffer
  // and is read into it directly. read_buf_ is empty while it holds no bytes: idle
  // connections cost no buffer.
  std::vector<uint8_t> read_buf_;
  size_t read_len_ = 0;
  ByteBuffer big_frame_;
  size_t big_filled_ = 0;
  bool in_big_frame_ = false;
  bool reading_ = false;
  bool stop_reading_ = false;
  bool closed_ = false;
  bool waiting_memory_ = false;  // the request memory pool is spent: not reading
  size_t reserved_bytes_ = 0;    // taken from pool_ and not yet given back
  size_t granted_bytes_ = 0;     // granted after a wait, for the next frame Reserve sees

  std::deque<Slot> slots_;
  uint64_t front_seq_ = 0;  // sequence number of slots_.front()
  // Requests read but not yet fully answered (their reply still unwritten): reading
  // pauses at the limits, so a client that does not read its replies is not buffered for.
  size_t inflight_requests_ = 0;
  size_t inflight_bytes_ = 0;

  // The response being written: its pieces and how far we are.
  std::optional<Outbound> current_;
  size_t current_request_bytes_ = 0;
  size_t piece_ = 0;         // index into the piece list (bytes runs and slices, alternating)
  uint64_t piece_done_ = 0;  // bytes of that piece already written
  bool waiting_write_ = false;

  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
};

// Tracks live connections for StopAccepting / CloseAll / counts. Thread-safe.
class ConnectionRegistry {
 public:
  virtual ~ConnectionRegistry() = default;
  virtual void Remove(uint64_t id) = 0;
  virtual void AddPending(int64_t delta) = 0;
};

}  // namespace fjord::net
