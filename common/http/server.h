// A small HTTP/1.1 server on Boost.Beast, run on the caller's io_context.
//
// Handlers run on that io_context's thread, so they may touch state owned by it. Requests
// over the limits get 413/431 and malformed ones 400, without reaching the handler.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/result.h"
#include "common/http/http.h"

namespace autovibe {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see HttpServer::port()
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  std::chrono::seconds idle_timeout{60};
  // How long a response given later (HttpResponse::later) may take: then 504.
  std::chrono::seconds later_timeout{600};
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
