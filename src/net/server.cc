#include "fjord/net/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "connection.h"
#include "logger.h"

namespace fjord::net {
namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::State : public ConnectionRegistry, public std::enable_shared_from_this<State> {
  State(EventLoops& l, RequestHandler& h, ConnectionLimits lim)
      : loops(l), handler(h), limits(lim), pool(lim.max_queued_request_bytes) {}

  void Remove(uint64_t id) override {
    std::vector<size_t> resume;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = connections.find(id);
      if (it == connections.end()) return;
      auto ip = per_ip.find(it->second.ip);
      if (ip != per_ip.end() && --ip->second <= 0) per_ip.erase(ip);
      connections.erase(it);
      resume.swap(paused);
    }
    // A slot is free: listeners paused at max.connections accept again.
    for (size_t index : resume) {
      auto self = shared_from_this();
      asio::post(loops.context(0), [self, index] { self->Accept(index); });
    }
  }
  void AddPending(int64_t delta) override { pending.fetch_add(delta); }

  void Accept(size_t index);
  void OnAccepted(size_t index, size_t loop, tcp::socket s);
  // accept() failed for want of descriptors or memory: try again after a pause, logging
  // once per interval rather than once per attempt.
  void BackOff(size_t index, const boost::system::error_code& ec);

  struct Entry {
    std::weak_ptr<Connection> conn;
    std::string ip;
  };

  EventLoops& loops;
  RequestHandler& handler;
  ConnectionLimits limits;
  RequestMemoryPool pool;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // on loop 0
  std::vector<ListenerSpec> specs;
  std::atomic<int64_t> pending{0};
  std::atomic<uint64_t> next_id{1};
  std::atomic<size_t> next_loop{0};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::map<uint64_t, Entry> connections;
  std::map<std::string, int32_t> per_ip;
  std::vector<size_t> paused;  // listeners waiting for a free slot (max.connections)
  // Accept failures (EMFILE...): when the last was logged and how many were not.
  std::chrono::steady_clock::time_point last_accept_log;
  uint64_t unlogged_accept_failures = 0;
};

namespace {

constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

bool OutOfResources(const boost::system::error_code& ec) {
  const int e = ec.value();
  return ec.category() == boost::system::system_category() &&
         (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM);
}

}  // namespace

void Server::State::BackOff(size_t index, const boost::system::error_code& ec) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_log >= kAcceptLogInterval) {
    Logger().warn(
        "accept on {} failed: {} ({} more failures since the last report); retrying "
        "every {} ms",
        specs[index].name, ec.message(), unlogged_accept_failures, kAcceptBackoff.count());
    last_accept_log = now;
    unlogged_accept_failures = 0;
  } else {
    ++unlogged_accept_failures;
  }
  auto self = shared_from_this();
  loops.RunAfter(0, kAcceptBackoff, [self, index] {
    if (!self->stopping.load()) self->Accept(index);
  });
}

void Server::State::Accept(size_t index) {
  if (stopping.load()) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (connections.size() >= static_cast<size_t>(std::max(limits.max_connections, 0))) {
      // Resumed by Remove() when a connection closes.
      if (std::find(paused.begin(), paused.end(), index) == paused.end()) paused.push_back(index);
      return;
    }
  }
  size_t loop = next_loop.fetch_add(1) % loops.size();
  auto self = shared_from_this();
  acceptors[index]->async_accept(
      loops.context(loop), [self, index, loop](const boost::system::error_code& ec, tcp::socket s) {
        if (self->stopping.load()) return;
        if (ec) {
          if (ec == asio::error::operation_aborted) return;
          if (OutOfResources(ec)) {
            self->BackOff(index, ec);
            return;
          }
          Logger().warn("accept on {} failed: {}", self->specs[index].name, ec.message());
        } else {
          self->OnAccepted(index, loop, std::move(s));
        }
        self->Accept(index);
      });
}

void Server::State::OnAccepted(size_t index, size_t loop, tcp::socket s) {
  RequestContext ctx;
  ctx.connection_id = next_id.fetch_add(1);
  boost::system::error_code pec;
  auto ep = s.remote_endpoint(pec);
  const std::string ip = pec ? "unknown" : ep.address().to_string();
  ctx.peer = pec ? "unknown" : absl::StrCat(ip, ":", ep.port());
  ctx.listener = specs[index].name;
  ctx.security_protocol = specs[index].security_protocol;
  ctx.loop = loop;
  auto conn =
      std::make_shared<Connection>(std::move(s), std::move(ctx), handler, limits, *this, pool);
  {
    std::lock_guard<std::mutex> lock(mu);
    int32_t& from_ip = per_ip[ip];
    if (from_ip >= limits.max_connections_per_ip) {
      // Kafka: TooManyConnectionsException, the socket closed at once.
      Logger().info(
          "Rejected connection from {}, address already has the configured maximum of {} "
          "connections (max.connections.per.ip)",
          ip, limits.max_connections_per_ip);
      if (from_ip == 0) per_ip.erase(ip);
      asio::post(loops.context(loop), [conn] { conn->Close("", false); });
      return;
    }
    ++from_ip;
    connections[conn->context().connection_id] = Entry{conn, ip};
  }
  asio::post(loops.context(loop), [conn] { conn->Start(); });
}

Server::Server(EventLoops& loops, RequestHandler& handler, ConnectionLimits limits)
    : state_(std::make_shared<State>(loops, handler, limits)) {}

Server::~Server() { CloseAll(); }

absl::StatusOr<std::vector<BoundListener>> Server::Listen(
    const std::vector<ListenerSpec>& listeners) {
  std::vector<BoundListener> bound;
  for (const ListenerSpec& spec : listeners) {
    boost::system::error_code ec;
    tcp::endpoint ep;
    if (spec.host.empty()) {
      ep = tcp::endpoint(tcp::v4(), spec.port);
    } else {
      auto addr = asio::ip::make_address(spec.host, ec);
      if (ec) {
        // A host name: resolve it once at start-up.
        asio::io_context io;
        tcp::resolver resolver(io);
        auto results = resolver.resolve(spec.host, std::to_string(spec.port), ec);
        if (ec || results.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "listener ", spec.name, ": cannot resolve host '", spec.host, "': ", ec.message()));
        }
        ep = results.begin()->endpoint();
      } else {
        ep = tcp::endpoint(addr, spec.port);
      }
    }
    auto acceptor = std::make_unique<tcp::acceptor>(state_->loops.context(0));
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("listener ", spec.name, ": cannot listen on ",
                                                 spec.host, ":", spec.port, ": ", ec.message()));
    }
    BoundListener b{spec};
    b.spec.port = acceptor->local_endpoint().port();
    bound.push_back(b);
    state_->specs.push_back(b.spec);
    state_->acceptors.push_back(std::move(acceptor));
  }
  return bound;
}

void Server::StartAccepting() {
  for (size_t i = 0; i < state_->acceptors.size(); ++i) {
    auto state = state_;
    asio::post(state_->loops.context(0), [state, i] { state->Accept(i); });
  }
}

void Server::StopAccepting() {
  auto state = state_;
  state->stopping.store(true);
  asio::post(state->loops.context(0), [state] {
    for (auto& a : state->acceptors) {
      boost::system::error_code ec;
      a->close(ec);
    }
  });
  std::lock_guard<std::mutex> lock(state->mu);
  for (auto& [id, entry] : state->connections) {
    if (auto conn = entry.conn.lock()) {
      asio::post(state->loops.context(conn->context().loop), [conn] { conn->StopReading(); });
    }
  }
}

size_t Server::PendingWork() const {
  int64_t p = state_->pending.load();
  return p < 0 ? 0 : static_cast<size_t>(p);
}

void Server::CloseAll() {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& [id, entry] : state_->connections) {
      if (auto conn = entry.conn.lock()) conns.push_back(conn);
    }
  }
  for (auto& conn : conns) {
    asio::post(state_->loops.context(conn->context().loop),
               [conn] { conn->Close("the broker is shutting down", false); });
  }
}

size_t Server::connection_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->connections.size();
}

}  // namespace fjord::net
