// A small HTTP/1.1 server on Boost.Beast, run on the caller's io_context.
//
// Handlers run on that io_context's thread, so they may touch state owned by it. Requests
// over the limits get 413/431 and malformed ones 400, without reaching the handler; a request
// whose head or body is too slow in coming is dropped. Over TLS (HttpServerOptions::tls) the
// same holds; the handshake is bounded by header_timeout too.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/core/result.h"
#include "common/http/http.h"
#include "common/http/listener.h"

namespace boost::asio::ssl {
class context;
}

namespace autovibe {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see HttpServer::port()
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  // Connections open at once, overall and per client address (listener.h): over a cap a new
  // connection is answered 503 and closed; when full, the one waiting longest for a request's
  // head is closed to make room.
  ConnectionLimits limits;
  // A request's head must arrive within header_timeout of its first byte (of the connection,
  // for a connection's first request); its body within body_timeout of the head.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  // How long a kept-alive connection may wait for its next request.
  std::chrono::seconds idle_timeout{60};
  // How long a response given later (HttpResponse::later) may take: then 504.
  std::chrono::seconds later_timeout{600};
  // Runs once a request's head has arrived, before its body is read (`head.body` is empty): a
  // response it returns (a 401 for a missing token, say) is sent instead of reading the body
  // and calling the handler, and the connection then closes.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> check_head;
  // Serve https with this context (tls_context.h: MakeServerTlsContext); null: plain http.
  // A connection's handshake must end within header_timeout; one that starts with anything
  // but a TLS handshake (plain http sent to this port) is answered 400 in the clear and
  // closed at once, without the request being read.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  virtual ~HttpServer() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // Stops accepting; open connections end after their current request.
  virtual void Stop() = 0;
};

// Binds and starts accepting. Fails if the address cannot be bound.
Result<std::unique_ptr<HttpServer>> StartHttpServer(boost::asio::io_context& ioc,
                                                    HttpServerOptions options,
                                                    HttpServer::Handler handler);

// Splits "host:port" (or "[v6]:port"). Fails on a missing or out-of-range port.
Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

}  // namespace autovibe
