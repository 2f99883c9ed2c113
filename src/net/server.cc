#include "fjord/net/server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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
      : loops(l), handler(h), limits(lim) {}

  void Remove(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu);
    connections.erase(id);
  }
  void AddPending(int64_t delta) override { pending.fetch_add(delta); }

  void Accept(size_t index);

  EventLoops& loops;
  RequestHandler& handler;
  ConnectionLimits limits;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // on loop 0
  std::vector<ListenerSpec> specs;
  std::atomic<int64_t> pending{0};
  std::atomic<uint64_t> next_id{1};
  std::atomic<size_t> next_loop{0};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::map<uint64_t, std::weak_ptr<Connection>> connections;
};

void Server::State::Accept(size_t index) {
  size_t loop = next_loop.fetch_add(1) % loops.size();
  auto self = shared_from_this();
  acceptors[index]->async_accept(
      loops.context(loop), [self, index, loop](const boost::system::error_code& ec, tcp::socket s) {
        if (self->stopping.load()) return;
        if (ec) {
          if (ec == asio::error::operation_aborted) return;
          Logger().warn("accept on {} failed: {}", self->specs[index].name, ec.message());
          // EMFILE and friends: keep accepting; the next attempt may succeed.
        } else {
          RequestContext ctx;
          ctx.connection_id = self->next_id.fetch_add(1);
          boost::system::error_code pec;
          auto ep = s.remote_endpoint(pec);
          ctx.peer = pec ? "unknown" : absl::StrCat(ep.address().to_string(), ":", ep.port());
          ctx.listener = self->specs[index].name;
          ctx.security_protocol = self->specs[index].security_protocol;
          ctx.loop = loop;
          auto conn = std::make_shared<Connection>(std::move(s), std::move(ctx), self->handler,
                                                   self->limits, *self);
          {
            std::lock_guard<std::mutex> lock(self->mu);
            self->connections[conn->context().connection_id] = conn;
          }
          asio::post(self->loops.context(loop), [conn] { conn->Start(); });
        }
        self->Accept(index);
      });
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
  for (auto& [id, weak] : state->connections) {
    if (auto conn = weak.lock()) {
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
    for (auto& [id, weak] : state_->connections) {
      if (auto conn = weak.lock()) conns.push_back(conn);
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
