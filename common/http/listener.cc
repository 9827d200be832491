#include "common/http/listener.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/core/awaitable.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr std::chrono::milliseconds kAcceptPause{100};

// The acceptor, shared by the handle and the accept loop so the loop can outlive the handle.
struct Acceptor {
  explicit Acceptor(asio::io_context& ioc) : socket(ioc) {}
  tcp::acceptor socket;
  uint16_t port = 0;
};

Result<void> Bind(tcp::acceptor& acceptor, const ListenerOptions& options) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options.host, ec);
  if (ec) return MakeError(ErrorCode::kBadConfig, "bad listen address " + options.host);
  tcp::endpoint ep(addr, options.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen on " + options.host + ":" +
                                                  std::to_string(options.port) + ": " +
                                                  ec.message());
  }
  return {};
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<Acceptor> acceptor, std::string log_prefix,
                                 TcpListener::OnAccept on_accept) {
  tcp::acceptor& a = acceptor->socket;
  while (a.is_open()) {
    auto [ec, socket] = co_await a.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !a.is_open()) co_return;
      // Out of file descriptors (or similar): pause instead of spinning on the owner thread,
      // and keep serving the connections we have.
      spdlog::warn("{}accept failed: {}", log_prefix, ec.message());
      asio::steady_timer pause(a.get_executor(), kAcceptPause);
      co_await pause.async_wait(kTuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    on_accept(std::move(socket));
  }
}

class Listener final : public TcpListener {
 public:
  explicit Listener(std::shared_ptr<Acceptor> a) : a_(std::move(a)) {}
  ~Listener() override { Stop(); }
  uint16_t port() const override { return a_->port; }
  void Stop() override {
    boost::system::error_code ignored;
    a_->socket.close(ignored);
  }

 private:
  std::shared_ptr<Acceptor> a_;
};

}  // namespace

Result<std::unique_ptr<TcpListener>> StartTcpListener(asio::io_context& ioc,
                                                      ListenerOptions options,
                                                      TcpListener::OnAccept on_accept) {
  auto acceptor = std::make_shared<Acceptor>(ioc);
  if (auto r = Bind(acceptor->socket, options); !r) return r.error();
  acceptor->port = acceptor->socket.local_endpoint().port();
  asio::co_spawn(ioc, AcceptLoop(acceptor, std::move(options.log_prefix), std::move(on_accept)),
                 asio::detached);
  return std::unique_ptr<TcpListener>(new Listener(std::move(acceptor)));
}

Result<std::unique_ptr<TcpListener>> AdoptTcpListener(asio::io_context& ioc, int listening_fd,
                                                      std::string log_prefix,
                                                      TcpListener::OnAccept on_accept) {
  auto acceptor = std::make_shared<Acceptor>(ioc);
  boost::system::error_code ec;
  acceptor->socket.assign(tcp::v4(), listening_fd, ec);
  if (ec) {
    ::close(listening_fd);
    return MakeError(ErrorCode::kUnavailable,
                     "cannot accept on a handed-over socket: " + ec.message());
  }
  acceptor->port = acceptor->socket.local_endpoint(ec).port();
  asio::co_spawn(ioc, AcceptLoop(acceptor, std::move(log_prefix), std::move(on_accept)),
                 asio::detached);
  return std::unique_ptr<TcpListener>(new Listener(std::move(acceptor)));
}

}  // namespace autovibe
