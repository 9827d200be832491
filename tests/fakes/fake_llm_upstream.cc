#include "tests/fakes/fake_llm_upstream.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace autovibe::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What the server's coroutines share. Frames still pending when the io_context is destroyed
// touch nothing of this in their destructors; what their streams need (the TLS context) they
// share.
struct ServerState {
  ServerState() : acceptor(ioc) {}

  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::shared_ptr<ssl::context> tls;
  bool released = false;
  std::vector<std::shared_ptr<asio::steady_timer>> holds;
};

struct Shared {
  FakeLlmUpstream::Script* script;
  std::mutex* mu;
  std::vector<FakeLlmRequest>* requests;
  int* hangups;
};

// Waits for Release(); a client hanging up meanwhile ends the wait too, and is counted.
asio::awaitable<void> HoldImpl(ServerState* server, tcp::socket& raw, Shared shared) {
  if (server->released) co_return;
  auto timer = std::make_shared<asio::steady_timer>(server->ioc);
  timer->expires_at(asio::steady_timer::time_point::max());
  server->holds.push_back(timer);
  auto watching = std::make_shared<bool>(true);
  raw.async_wait(tcp::socket::wait_read, [timer, watching, &raw, shared](auto ec) {
    if (!*watching) return;
    char byte;
    if (!ec && ::recv(raw.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;
    std::lock_guard lock(*shared.mu);
    ++*shared.hangups;
    timer->cancel();
  });
  co_await timer->async_wait(kTuple);
  *watching = false;
  boost::system::error_code ignored;
  raw.cancel(ignored);
}

template <class Stream>
asio::awaitable<bool> Write(Stream& stream, const FakeLlmAnswer& answer, std::string_view piece) {
  boost::system::error_code ec;
  if (answer.chunked) {
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, http::make_chunk(asio::const_buffer(piece.data(), piece.size())), kTuple);
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream, asio::buffer(piece.data(), piece.size()), kTuple);
  }
  co_return !ec;
}

template <class Stream>
asio::awaitable<void> Serve(Stream& stream, tcp::socket& raw, int connection, ServerState* server,
                            Shared shared) {
  beast::flat_buffer buffer;
  buffer.reserve(64 << 10);  // Beast reads at most the free capacity: large requests in few reads
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, kTuple);
    if (ec) co_return;
    FakeLlmRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      rec.headers[name] = std::string(f.value());
    }
    rec.body = req.body();
    rec.connection = connection;
    {
      std::lock_guard lock(*shared.mu);
      shared.requests->push_back(rec);
    }
    FakeLlmAnswer answer = (*shared.script)(rec);
    if (answer.delay.count() > 0) {
      asio::steady_timer working(server->ioc, answer.delay);
      co_await working.async_wait(kTuple);
    }
    if (answer.drop) co_return;

    http::response<http::empty_body> res{static_cast<http::status>(answer.status), 11};
    res.set(http::field::content_type, answer.content_type);
    for (const auto& [k, v] : answer.headers) res.set(k, v);
    if (answer.chunked) {
      res.chunked(true);
    } else {
      size_t length = 0;
      for (const auto& p : answer.pieces) length += p.size();
      res.content_length(length);
    }
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    if (hec) co_return;
    for (size_t i = 0; i < answer.pieces.size(); ++i) {
      if (i == answer.cut_after) co_return;
      if (i == answer.hold_after) co_await HoldImpl(server, raw, shared);
      if (!co_await Write(stream, answer, answer.pieces[i])) co_return;
    }
    if (answer.hold_after == answer.pieces.size()) co_await HoldImpl(server, raw, shared);
    if (answer.chunked) {
      auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
      if (lec) co_return;
    }
  }
}

asio::awaitable<void> Connection(tcp::socket socket, int connection, ServerState* server,
                                 Shared shared) {
  socket.set_option(tcp::no_delay(true));
  if (!server->tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(stream, stream.socket(), connection, server, shared);
    co_return;
  }
  auto tls = server->tls;  // outlives the stream, even when the io_context is torn down
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) co_return;
  co_await Serve(stream, beast::get_lowest_layer(stream).socket(), connection, server, shared);
}

}  // namespace

struct FakeLlmUpstream::Server : ServerState {};

FakeLlmUpstream::FakeLlmUpstream(Script script)
    : script_(std::move(script)), server_(std::make_unique<Server>()) {}

FakeLlmUpstream::~FakeLlmUpstream() {
  server_->ioc.stop();
  if (thread_.joinable()) thread_.join();
}

Result<void> FakeLlmUpstream::Start(const std::string& cert_file, const std::string& key_file) {
  boost::system::error_code ec;
  if (!cert_file.empty()) {
    server_->tls = std::make_shared<ssl::context>(ssl::context::tls_server);
    server_->tls->use_certificate_chain_file(cert_file, ec);
    if (!ec) server_->tls->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) return MakeError(ErrorCode::kBadConfig, "fake upstream TLS: " + ec.message());
    tls_ = true;
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  server_->acceptor.open(ep.protocol(), ec);
  if (!ec) server_->acceptor.bind(ep, ec);
  if (!ec) server_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "fake upstream cannot listen: " + ec.message());
  port_ = server_->acceptor.local_endpoint().port();

  Server* server = server_.get();
  Shared shared{&script_, &mu_, &requests_, &hangups_};
  asio::co_spawn(
      server->ioc,
      [this, server, shared]() -> asio::awaitable<void> {
        for (;;) {
          auto [aec, socket] = co_await server->acceptor.async_accept(kTuple);
          if (aec) co_return;
          int n;
          {
            std::lock_guard lock(mu_);
            n = ++connections_;
          }
          asio::co_spawn(server->ioc, Connection(std::move(socket), n, server, shared),
                         asio::detached);
        }
      },
      asio::detached);
  thread_ = std::thread([server] { server->ioc.run(); });
  return {};
}

std::string FakeLlmUpstream::url() const {
  return tls_ ? "https://localhost:" + std::to_string(port_)
              : "http://127.0.0.1:" + std::to_string(port_);
}

void FakeLlmUpstream::Release() {
  Server* server = server_.get();
  asio::post(server->ioc, [server] {
    server->released = true;
    for (auto& t : server->holds) t->cancel();
    server->holds.clear();
  });
}

std::vector<FakeLlmRequest> FakeLlmUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeLlmUpstream::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

int FakeLlmUpstream::hangups() const {
  std::lock_guard lock(mu_);
  return hangups_;
}

}  // namespace autovibe::testing
