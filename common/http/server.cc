#include "common/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <optional>

#include "common/core/awaitable.h"
#include "common/http/listener.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The TCP socket under a plain or TLS stream.
template <class Stream>
tcp::socket& Socket(Stream& stream) {
  return beast::get_lowest_layer(stream).socket();
}

template <class Stream>
void ExpiresAfter(Stream& stream, std::chrono::steady_clock::duration d) {
  beast::get_lowest_layer(stream).expires_after(d);
}

// Ends our side of the connection once an answer is out: a FIN for plain TCP. Over TLS the
// connection simply closes after the drain (a close_notify would need the peer's reply).
void CloseWrite(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}
void CloseWrite(TlsStream&) {}

// Ends a connection that is still sound: over TLS with a close_notify (so a client reading to
// the end of the connection knows the answer was not cut), waiting a moment for the peer's.
asio::awaitable<void> Finish(beast::tcp_stream&) { co_return; }
asio::awaitable<void> Finish(TlsStream& stream) {
  ExpiresAfter(stream, std::chrono::seconds(1));
  co_await stream.async_shutdown(kTuple);
}

// The first byte of a TLS connection: a handshake record.
constexpr unsigned char kTlsHandshakeRecord = 0x16;

// Fills the path and query of `req` from its target. Returns false on a malformed target.
bool SplitTarget(HttpRequest& req) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return false;
  req.path = std::string(parsed->path());
  for (auto param : parsed->params()) {
    req.query[std::string(param.key)] = std::string(param.value);
  }
  return true;
}

std::string LowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A HEAD answer carries the GET answer's headers, Content-Length included, and no body.
http::response<http::string_body> ToBeast(HttpResponse r, unsigned version, bool keep_alive,
                                          bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "autovibe");
  res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.content_length(r.body.size());
  if (!head) res.body() = std::move(r.body);
  return res;
}

// The request as the handler sees it, from its head (the body comes later).
HttpRequest FromHead(const http::request_parser<http::string_body>& parser) {
  const auto& msg = parser.get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.authorization = std::string(msg[http::field::authorization]);
  req.content_type = std::string(msg[http::field::content_type]);
  for (const auto& field : msg) {
    req.headers.emplace_back(LowerCase(field.name_string()), field.value());
  }
  return req;
}

// `data` as one chunk of a chunked body, followed by the body's end when `last`.
std::string ChunkFrame(std::string_view data, bool last) {
  char size[20];
  auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
  std::string out(size, end);
  out += "\r\n";
  out += data;
  out += last ? "\r\n0\r\n\r\n" : "\r\n";
  return out;
}

// The body of a streamed response: a queue the owner thread fills and the session drains.
class BodyStream final : public HttpBodyStream {
 public:
  explicit BodyStream(const asio::any_io_executor& ex) : wake_(ex) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  bool Write(std::string data) override {
    if (closed_ || gone_) return false;
    queued_ += data.size();
    queue_.push_back(std::move(data));
    wake_.cancel();
    return true;
  }
  void Close() override {
    closed_ = true;
    wake_.cancel();
  }
  void Abort() override {
    aborted_ = true;
    Close();
  }
  bool open() const override { return !closed_ && !gone_; }
  size_t queued_bytes() const override { return queued_; }
  void WhenSent(std::function<void()> sent) override {
    when_sent_ = std::move(sent);
    if (queue_.empty() || gone_) Sent();
  }

  // Session side.
  // Hands the WhenSent call, if any, to the executor.
  void Sent() {
    if (!when_sent_) return;
    asio::post(wake_.get_executor(), std::exchange(when_sent_, nullptr));
  }
  std::deque<std::string> queue_;
  size_t queued_ = 0;  // bytes of the data in queue_
  std::function<void()> when_sent_;
  asio::steady_timer wake_;
  bool closed_ = false;
  bool aborted_ = false;
  bool gone_ = false;
};

class Server final : public HttpServer, public std::enable_shared_from_this<Server> {
 public:
  Server(HttpServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  // Binds and starts accepting; each connection is a Session.
  Result<void> Listen(asio::io_context& ioc) {
    HttpResponse busy = JsonError(503, "unavailable", "too many connections; retry later");
    busy.headers.emplace_back("Retry-After", "1");
    ListenerOptions lo{.host = options_.host,
                       .port = options_.port,
                       .log_prefix = "http ",
                       .limits = options_.limits,
                       // A TLS client could not read an answer sent before the handshake.
                       .refusal = options_.tls ? std::string() : ClosingAnswerBytes(busy)};
    auto listener = StartTcpListener(
        ioc, std::move(lo), [self = shared_from_this()](tcp::socket s, ConnectionSlot slot) {
          auto ex = s.get_executor();
          if (self->options_.tls) {
            asio::co_spawn(ex, self->TlsSession(beast::tcp_stream(std::move(s)), std::move(slot)),
                           asio::detached);
          } else {
            asio::co_spawn(ex, self->Session(beast::tcp_stream(std::move(s)), std::move(slot)),
                           asio::detached);
          }
        });
    if (!listener) return listener.error();
    listener_ = std::move(*listener);
    not_tls_ = ClosingAnswerBytes(
        JsonError(400, "bad_request", "this server speaks https only: use an https:// URL"));
    return {};
  }

  uint16_t port() const override { return listener_->port(); }

  void Stop() override {
    listener_->Stop();
    *alive_ = false;
  }

 private:
  // Reads a request's head: a connection's first within header_timeout of the connection, a
  // later one within idle_timeout for its first byte and header_timeout from there. Meanwhile
  // the connection is waiting (the first closed to make room when the server is full).
  template <class AnyStream>
  asio::awaitable<boost::system::error_code> ReadHead(
      AnyStream& stream, beast::flat_buffer& buffer,
      http::request_parser<http::string_body>& parser, ConnectionSlot& slot, bool first) {
    slot.Waiting(Socket(stream));
    if (!first && buffer.size() == 0) {
      ExpiresAfter(stream, options_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) co_return ec;
      buffer.commit(n);
    }
    ExpiresAfter(stream, options_.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    slot.Busy();
    co_return ec;
  }

  // Reads the first bytes: a TLS handshake goes on to a Session over TLS; anything else (plain
  // http sent to the https port) is answered 400 in the clear and closed.
  asio::awaitable<void> TlsSession(beast::tcp_stream tcp, ConnectionSlot slot) {
    auto self = shared_from_this();
    slot.Waiting(tcp.socket());
    tcp.expires_after(options_.header_timeout);
    beast::flat_buffer first;
    auto [ec, n] = co_await tcp.async_read_some(first.prepare(4096), kTuple);
    if (ec) co_return;
    first.commit(n);
    if (*static_cast<const unsigned char*>(first.data().data()) != kTlsHandshakeRecord) {
      co_await asio::async_write(tcp, asio::buffer(not_tls_), kTuple);
      CloseWrite(tcp);
      co_return;
    }
    TlsStream stream(std::move(tcp), *options_.tls);
    slot.Waiting(Socket(stream));  // the socket lives in `stream` now
    auto [hec, used] =
        co_await stream.async_handshake(asio::ssl::stream_base::server, first.data(), kTuple);
    if (hec) co_return;
    co_await Session(std::move(stream), std::move(slot));
  }

  template <class AnyStream>
  asio::awaitable<void> Session(AnyStream stream, ConnectionSlot slot) {
    auto self = shared_from_this();  // the frame keeps the server alive
    beast::flat_buffer buffer;
    auto alive = alive_;
    Handler handler = handler_;
    boost::system::error_code peer_ec;
    const auto peer = Socket(stream).remote_endpoint(peer_ec);
    const std::string remote_address = peer_ec ? std::string() : peer.address().to_string();
    bool clean = false;  // ended after a whole answer, not by an error or timeout
    for (bool first = true;; first = false) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      auto ec = co_await ReadHead(stream, buffer, parser, slot, first);
      std::optional<HttpRequest> req;
      std::optional<HttpResponse> refused;
      bool target_ok = false;
      if (!ec) {
        req = FromHead(parser);
        req->remote_address = remote_address;
        target_ok = SplitTarget(*req);
        if (target_ok && options_.check_head) refused = options_.check_head(*req);
        if (!refused && !parser.is_done()) {
          ExpiresAfter(stream, options_.body_timeout);
          std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTuple);
        }
      }
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
        break;
      }
      HttpResponse out;
      bool keep_alive = false;
      bool head = false;
      unsigned version = 11;
      if (refused) {
        out = std::move(*refused);
        version = parser.get().version();
      } else if (ec == http::error::body_limit) {
        out =
            JsonError(413, "too_large",
                      "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        out = JsonError(431, "too_large", "request headers too large");
      } else if (ec) {
        out = JsonError(400, "bad_request", "malformed HTTP request: " + ec.message());
      } else {
        auto& msg = parser.get();
        version = msg.version();
        keep_alive = msg.keep_alive();
        head = msg.method() == http::verb::head;
        req->body = std::move(msg.body());
        if (!target_ok) {
          out = JsonError(400, "bad_request", "malformed request target");
        } else if (!*alive) {
          out = JsonError(503, "unavailable", "server is stopping");
          keep_alive = false;
        } else {
          out = handler(*req);
          if (out.later) {
            out = co_await Later(stream, std::move(out.later));
            ExpiresAfter(stream, options_.idle_timeout);  // for writing the answer
          }
        }
      }
      if (out.on_stream && !head) {
        if (!co_await Stream(stream, std::move(out), version, keep_alive)) {
          clean = false;
          break;
        }
        continue;
      }
      auto res = ToBeast(std::move(out), version, keep_alive, head);
      http::serializer<false, http::string_body> sr{res};
      if (head) sr.split(true);
      auto [wec, wn] = head ? co_await http::async_write_header(stream, sr, kTuple)
                            : co_await http::async_write(stream, sr, kTuple);
      if (refused && !wec) co_await DrainAndClose(stream);
      if (wec || !keep_alive) {
        clean = !wec && !refused;
        break;
      }
    }
    if (clean) co_await Finish(stream);
    // The socket closes with the stream: a FIN, as a shutdown would send first.
  }

  // After an answer given without reading the request's body: what the client still sends is
  // read and dropped for a moment (at most max_body_bytes), since closing with unread bytes
  // would reset the connection and could lose the answer.
  template <class AnyStream>
  asio::awaitable<void> DrainAndClose(AnyStream& stream) {
    boost::system::error_code ec;
    CloseWrite(stream);
    ExpiresAfter(stream, std::chrono::seconds(1));
    char sink[4096];
    size_t drained = 0;
    while (!ec && drained < options_.max_body_bytes) {
      size_t n = 0;
      std::tie(ec, n) = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      drained += n;
    }
  }

  // Waits for a response the handler gives later, at most later_timeout (then 504).
  template <class AnyStream>
  asio::awaitable<HttpResponse> Later(
      AnyStream& stream, std::function<void(std::function<void(HttpResponse)>)> later) {
    struct Pending {
      explicit Pending(const asio::any_io_executor& ex) : wake(ex) {}
      asio::steady_timer wake;
      std::optional<HttpResponse> response;
    };
    auto pending = std::make_shared<Pending>(stream.get_executor());
    later([pending](HttpResponse r) {
      if (pending->response) return;
      pending->response = std::move(r);
      pending->wake.cancel();
    });
    const auto deadline = std::chrono::steady_clock::now() + options_.later_timeout;
    while (!pending->response && std::chrono::steady_clock::now() < deadline) {
      pending->wake.expires_at(deadline);
      co_await pending->wake.async_wait(kTuple);
    }
    if (!pending->response) {
      co_return JsonError(504, "timeout", "no answer in time; the operation may still finish");
    }
    co_return std::move(*pending->response);
  }

  // Sends the headers, hands the body stream to the handler's callback, then writes what it
  // queues until it closes or the client goes. HTTP/1.1 bodies are chunked, so the connection
  // can carry the next request (as real SSE APIs do); an HTTP/1.0 body ends with the
  // connection. Returns whether the connection can carry the next request.
  template <class AnyStream>
  asio::awaitable<bool> Stream(AnyStream& stream, HttpResponse out, unsigned version,
                               bool keep_alive) {
    const bool chunked = version >= 11;
    http::response<http::empty_body> head{static_cast<http::status>(out.status), version};
    head.set(http::field::server, "autovibe");
    head.set(http::field::content_type, out.content_type);
    head.set(http::field::cache_control, "no-cache");
    for (auto& [k, v] : out.headers) head.set(k, v);
    head.chunked(chunked);
    head.keep_alive(chunked && keep_alive);
    ExpiresAfter(stream, std::chrono::seconds(30));
    http::response_serializer<http::empty_body> sr{head};
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    if (hec) co_return false;
    auto body = std::make_shared<BodyStream>(stream.get_executor());
    out.on_stream(body);
    bool ended = false;
    while (true) {
      if (!body->queue_.empty()) {
        std::string chunk = std::move(body->queue_.front());
        body->queue_.pop_front();
        body->queued_ -= std::min(body->queued_, chunk.size());
        if (chunk.empty()) continue;  // an empty chunk would end a chunked body
        ExpiresAfter(stream, std::chrono::seconds(30));
        // The last piece and the end of the body go in one write.
        if (chunked) {
          ended = body->closed_ && !body->aborted_ && body->queue_.empty();
          chunk = ChunkFrame(chunk, ended);
        }
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(chunk), kTuple);
        if (wec) {
          ended = false;
          break;
        }
        if (ended) break;
        if (body->queue_.empty()) body->Sent();
        continue;
      }
      if (body->closed_) {
        if (chunked && !body->aborted_) {
          auto [wec, wn] = co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
          ended = !wec;
        }
        break;
      }
      body->wake_.expires_after(out.keepalive_every);
      auto [tec] = co_await body->wake_.async_wait(kTuple);
      // Woken by Write/Close (operation_aborted) or silent for keepalive_every.
      if (!tec && !out.keepalive.empty()) body->queue_.push_back(out.keepalive);
    }
    body->gone_ = true;
    body->Sent();
    const bool reusable = chunked && keep_alive && ended && *alive_;
    co_return reusable;
  }

  HttpServerOptions options_;
  Handler handler_;
  std::unique_ptr<TcpListener> listener_;
  std::string not_tls_;  // the answer to plain http on the https port
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Owns the Server through a shared_ptr so coroutines can outlive the handle safely.
class ServerHandle final : public HttpServer {
 public:
  explicit ServerHandle(std::shared_ptr<Server> s) : s_(std::move(s)) {}
  ~ServerHandle() override { s_->Stop(); }
  uint16_t port() const override { return s_->port(); }
  void Stop() override { s_->Stop(); }

 private:
  std::shared_ptr<Server> s_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> StartHttpServer(asio::io_context& ioc,
                                                    HttpServerOptions options,
                                                    HttpServer::Handler handler) {
  auto server = std::make_shared<Server>(std::move(options), std::move(handler));
  if (auto r = server->Listen(ioc); !r) return r.error();
  return std::unique_ptr<HttpServer>(new ServerHandle(server));
}

std::string_view HeaderValue(const HttpRequest& req, std::string_view lower_case_name) {
  for (const auto& [name, value] : req.headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(ErrorCode::kBadConfig,
                     "expected HOST:PORT, got \"" + std::string(text) + "\"");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return MakeError(ErrorCode::kBadConfig, "bad port in \"" + std::string(text) + "\"");
  }
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace autovibe
