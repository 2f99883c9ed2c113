#include "connection.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "fjord/base/endian.h"
#include "logger.h"

namespace fjord::net {
namespace asio = boost::asio;

namespace {
// Frames up to this size are parsed out of the read buffer; larger ones are read straight
// into a buffer of their own.
constexpr size_t kReadBufferBytes = 64 * 1024;
// Read buffers a loop keeps for reuse. A connection takes one when its socket becomes
// readable and gives it back once every byte in it is dispatched, so memory follows the
// connections that are reading, not those that are open (20,000 idle connections cost no
// buffers; before, each held 64 KiB).
constexpr size_t kCachedReadBuffers = 16;

std::vector<std::vector<uint8_t>>& ReadBufferCache() {
  thread_local std::vector<std::vector<uint8_t>> cache;
  return cache;
}

std::vector<uint8_t> TakeReadBuffer() {
  auto& cache = ReadBufferCache();
  if (cache.empty()) return std::vector<uint8_t>(kReadBufferBytes);
  std::vector<uint8_t> buf = std::move(cache.back());
  cache.pop_back();
  return buf;
}

void GiveReadBuffer(std::vector<uint8_t> buf) {
  auto& cache = ReadBufferCache();
  if (cache.size() < kCachedReadBuffers) cache.push_back(std::move(buf));
}
}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, RequestContext ctx, RequestHandler& handler,
                       const ConnectionLimits& limits, ConnectionRegistry& registry,
                       RequestMemoryPool& pool)
    : socket_(std::move(socket)),
      fd_(socket_.native_handle()),
      ctx_(std::move(ctx)),
      handler_(handler),
      limits_(limits),
      registry_(registry),
      pool_(pool),
      idle_timer_(socket_.get_executor()) {}

void Connection::Start() {
  boost::system::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (limits_.send_buffer_bytes > 0) {
    socket_.set_option(asio::socket_base::send_buffer_size(limits_.send_buffer_bytes), ec);
  }
  if (limits_.receive_buffer_bytes > 0) {
    socket_.set_option(asio::socket_base::receive_buffer_size(limits_.receive_buffer_bytes), ec);
  }
  socket_.non_blocking(true, ec);
  Touch();
  ArmIdleTimer();
  StartRead();
}

bool Connection::Paused() const {
  return inflight_requests_ >= static_cast<size_t>(limits_.max_inflight_requests) ||
         inflight_bytes_ >= static_cast<size_t>(limits_.max_inflight_bytes);
}

void Connection::StartRead() {
  if (closed_ || reading_ || stop_reading_ || waiting_memory_ || Paused()) return;
  reading_ = true;
  auto self = shared_from_this();
  if (in_big_frame_) {
    socket_.async_read_some(
        asio::buffer(big_frame_.data() + big_filled_, big_frame_.size() - big_filled_),
        [self](const boost::system::error_code& ec, size_t n) { self->OnBigFrameRead(ec, n); });
  } else {
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self](const boost::system::error_code& ec) { self->OnReadable(ec); });
  }
}

void Connection::OnReadError(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::error::connection_reset) {
    Close("peer closed the connection", false);
  } else if (ec != asio::error::operation_aborted) {
    Close("read failed: " + ec.message(), true);
  }
}

void Connection::OnReadable(const boost::system::error_code& ec) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    OnReadError(ec);
    return;
  }
  if (in_big_frame_) {  // cannot happen: a big frame is read with async_read_some
    StartRead();
    return;
  }
  if (read_buf_.empty()) read_buf_ = TakeReadBuffer();
  const size_t room = read_buf_.size() - read_len_;
  if (room > 0) {
    ssize_t n = ::recv(fd_, read_buf_.data() + read_len_, room, 0);
    if (n == 0) {
      Close("peer closed the connection", false);
      return;
    }
    if (n < 0) {
      const int err = errno;
      if (err == ECONNRESET) {
        Close("peer closed the connection", false);
        return;
      }
      if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        Close(std::string("read failed: ") + std::strerror(err), true);
        return;
      }
    } else {
      read_len_ += static_cast<size_t>(n);
      Touch();
    }
  }
  ProcessBuffer();
  MaybeReleaseReadBuffer();
  StartRead();
}

void Connection::OnBigFrameRead(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    OnReadError(ec);
    return;
  }
  Touch();
  big_filled_ += n;
  if (big_filled_ == big_frame_.size()) {
    in_big_frame_ = false;
    ByteBuffer frame = std::move(big_frame_);
    big_frame_ = {};
    big_filled_ = 0;
    Dispatch(std::move(frame));
  }
  ProcessBuffer();
  MaybeReleaseReadBuffer();
  StartRead();
}

void Connection::MaybeReleaseReadBuffer() {
  if (read_len_ != 0 || read_buf_.empty()) return;
  GiveReadBuffer(std::move(read_buf_));
  read_buf_ = {};
}

bool Connection::Reserve(size_t bytes) {
  if (!pool_.bounded()) return true;
  if (granted_bytes_ > 0) {
    // Granted while this connection waited: for the frame it waited for, still first in
    // line (anything else gives the grant back and asks again).
    const size_t granted = granted_bytes_;
    granted_bytes_ = 0;
    if (granted == bytes) return true;
    reserved_bytes_ -= granted;
    pool_.Release(granted);
  }
  std::weak_ptr<Connection> weak = weak_from_this();
  auto* io = &static_cast<asio::io_context&>(socket_.get_executor().context());
  RequestMemoryPool* pool = &pool_;
  const bool ok = pool_.ReserveOrWait(bytes, [weak, io, pool, bytes] {
    asio::post(*io, [weak, pool, bytes] {
      if (auto self = weak.lock()) {
        self->OnMemoryGranted(bytes);
      } else {
        pool->Release(bytes);
      }
    });
  });
  if (ok) {
    reserved_bytes_ += bytes;
  } else {
    waiting_memory_ = true;
  }
  return ok;
}

void Connection::OnMemoryGranted(size_t bytes) {
  reserved_bytes_ += bytes;  // given back by Close if the connection is gone meanwhile
  if (closed_) {
    pool_.Release(bytes);
    reserved_bytes_ -= bytes;
    return;
  }
  granted_bytes_ = bytes;
  waiting_memory_ = false;
  ProcessBuffer();
  MaybeReleaseReadBuffer();
  StartRead();
}

void Connection::ProcessBuffer() {
  size_t pos = 0;
  while (!closed_ && !stop_reading_ && !waiting_memory_ && !Paused() && !in_big_frame_ &&
         read_len_ - pos >= 4) {
    int32_t size = static_cast<int32_t>(be::Load32(read_buf_.data() + pos));
    if (size < 0 || size > limits_.max_frame_bytes) {
      // Kafka: InvalidReceiveException. Nothing of the frame is buffered.
      Close("request frame of " + std::to_string(size) +
                " bytes is outside [0, socket.request.max.bytes=" +
                std::to_string(limits_.max_frame_bytes) + "]",
            true);
      return;
    }
    size_t have = read_len_ - pos - 4;
    const bool whole = have >= static_cast<size_t>(size);
    const bool own_buffer = !whole && 4 + static_cast<size_t>(size) > read_buf_.size();
    // Memory is taken from the pool when the frame's bytes are copied out of the read
    // buffer: whole, or into a buffer of its own.
    if ((whole || own_buffer) && !Reserve(static_cast<size_t>(size))) break;
    if (whole) {
      const uint8_t* p = read_buf_.data() + pos + 4;
      ByteBuffer frame(p, p + size);
      pos += 4 + static_cast<size_t>(size);
      Dispatch(std::move(frame));
      continue;
    }
    if (own_buffer) {
      // Too big for the shared buffer: give it its own and read the rest straight in.
      big_frame_.resize(static_cast<size_t>(size));
      std::memcpy(big_frame_.data(), read_buf_.data() + pos + 4, have);
      big_filled_ = have;
      in_big_frame_ = true;
      pos = read_len_;
    }
    break;
  }
  if (closed_) return;
  if (pos > 0) {
    std::memmove(read_buf_.data(), read_buf_.data() + pos, read_len_ - pos);
    read_len_ -= pos;
  }
}

void Connection::Dispatch(ByteBuffer frame) {
  uint64_t seq = front_seq_ + slots_.size();
  size_t bytes = frame.size();
  slots_.push_back(Slot{false, {}, bytes});
  ++inflight_requests_;
  inflight_bytes_ += bytes;
  registry_.AddPending(1);
  std::weak_ptr<Connection> weak = weak_from_this();
  auto& io = static_cast<asio::io_context&>(socket_.get_executor().context());
  handler_.Handle(ctx_, std::move(frame), [weak, seq, &io](Reply reply) {
    // Always go through the loop: the handler may answer inline, from inside Dispatch.
    asio::post(io, [weak, seq, reply = std::move(reply)]() mutable {
      if (auto self = weak.lock()) self->Complete(seq, std::move(reply));
    });
  });
}

void Connection::Complete(uint64_t seq, Reply reply) {
  if (closed_ || seq < front_seq_) return;
  Slot& slot = slots_[seq - front_seq_];
  slot.done = true;
  slot.reply = std::move(reply);
  WritePump();
}

void Connection::Retire(size_t request_bytes) {
  --inflight_requests_;
  inflight_bytes_ -= request_bytes;
  if (pool_.bounded()) {
    reserved_bytes_ -= request_bytes;
    pool_.Release(request_bytes);
  }
  registry_.AddPending(-1);
}

void Connection::WritePump() {
  const bool was_paused = Paused();
  WriteReplies();
  if (!closed_ && was_paused && !Paused()) {
    ProcessBuffer();
    StartRead();
  }
}

void Connection::WriteReplies() {
  while (!closed_ && !waiting_write_) {
    if (!current_) {
      if (slots_.empty() || !slots_.front().done) return;
      Reply reply = std::move(slots_.front().reply);
      const size_t request_bytes = slots_.front().bytes;
      slots_.pop_front();
      ++front_seq_;
      if (reply.kind == Reply::Kind::kNoResponse) {
        Retire(request_bytes);
        continue;
      }
      if (reply.kind == Reply::Kind::kClose) {
        Retire(request_bytes);
        Close(reply.close_reason, true);
        return;
      }
      current_ = std::move(reply.out);
      current_request_bytes_ = request_bytes;
      piece_ = 0;
      piece_done_ = 0;
    }
    if (!WriteCurrent()) return;
    current_.reset();
    Retire(current_request_bytes_);
    Touch();
  }
}

bool Connection::WriteCurrent() {
  const Outbound& out = *current_;
  const size_t pieces = 2 * out.slices.size() + 1;
  while (piece_ < pieces) {
    uint64_t length;
    ssize_t n;
    if (piece_ % 2 == 0) {
      size_t k = piece_ / 2;
      size_t begin = k == 0 ? 0 : out.slices[k - 1].first;
      size_t end = k < out.slices.size() ? out.slices[k].first : out.bytes.size();
      length = end - begin;
      if (piece_done_ == length) {
        ++piece_;
        piece_done_ = 0;
        continue;
      }
      n = ::send(fd_, out.bytes.data() + begin + piece_done_, length - piece_done_, MSG_NOSIGNAL);
    } else {
      const FileSlice& slice = out.slices[piece_ / 2].second;
      length = slice.length;
      if (piece_done_ == length) {
        ++piece_;
        piece_done_ = 0;
        continue;
      }
      off_t off = static_cast<off_t>(slice.offset + piece_done_);
      n = ::sendfile(fd_, slice.fd, &off, length - piece_done_);
      if (n == 0) {
        Close("segment file ended before the fetched bytes were sent", true);
        return false;
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        waiting_write_ = true;
        auto self = shared_from_this();
        socket_.async_wait(asio::ip::tcp::socket::wait_write,
                           [self](const boost::system::error_code& ec) {
                             self->waiting_write_ = false;
                             if (ec || self->closed_) return;
                             self->WritePump();
                           });
        return false;
      }
      Close(std::string("write failed: ") + std::strerror(errno), errno != EPIPE);
      return false;
    }
    piece_done_ += static_cast<uint64_t>(n);
  }
  return true;
}

void Connection::ArmIdleTimer() {
  if (closed_ || limits_.max_idle_ms <= 0) return;
  auto idle = std::chrono::milliseconds(limits_.max_idle_ms);
  idle_timer_.expires_at(last_activity_ + idle);
  auto self = shared_from_this();
  idle_timer_.async_wait([self, idle](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - self->last_activity_ >= idle && self->slots_.empty() && !self->current_) {
      self->Close(
          "idle for more than connections.max.idle.ms=" + std::to_string(self->limits_.max_idle_ms),
          true);
      return;
    }
    if (now - self->last_activity_ >= idle) self->Touch();  // busy: look again later
    self->ArmIdleTimer();
  });
}

void Connection::StopReading() { stop_reading_ = true; }

void Connection::Close(const std::string& reason, bool log_it) {
  if (closed_) return;
  closed_ = true;
  if (log_it)
    Logger().info("closing connection {} from {}: {}", ctx_.connection_id, ctx_.peer, reason);
  boost::system::error_code ec;
  idle_timer_.cancel();
  socket_.close(ec);
  // Requests still in the handler or unwritten will never be answered.
  size_t unanswered = slots_.size() + (current_ ? 1 : 0);
  registry_.AddPending(-static_cast<int64_t>(unanswered));
  slots_.clear();
  current_.reset();
  big_frame_ = {};
  // The bytes of requests never answered and of a frame half read go back to the pool.
  pool_.Release(reserved_bytes_);
  reserved_bytes_ = 0;
  if (!read_buf_.empty()) {
    GiveReadBuffer(std::move(read_buf_));
    read_buf_ = {};
    read_len_ = 0;
  }
  registry_.Remove(ctx_.connection_id);
}

}  // namespace fjord::net
