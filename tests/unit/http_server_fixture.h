// An HTTP server (common/http/server.h) on its own thread for tests: /v1/ paths need
// "Bearer good" (checked on the head), /events answers an event stream of two events, any
// other path answers {"path": ...}.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "common/http/server.h"

namespace autovibe::testing {

class ServerUnderTest {
 public:
  explicit ServerUnderTest(HttpServerOptions options) {
    options.check_head = [](const HttpRequest& head) -> std::optional<HttpResponse> {
      if (head.path.starts_with("/v1/") && head.authorization != "Bearer good") {
        return JsonError(401, "unauthorized", "missing bearer token");
      }
      return std::nullopt;
    };
    auto started = StartHttpServer(ioc_, std::move(options), [this](const HttpRequest& r) {
      ++handled_;
      if (r.path == "/events") {
        HttpResponse out{.content_type = "text/event-stream"};
        out.on_stream = [](std::shared_ptr<HttpBodyStream> body) {
          body->Write("data: one\n\n");
          body->Write("data: two\n\n");
          body->Close();
        };
        return out;
      }
      return HttpResponse{.body = "{\"path\":\"" + r.path + "\"}"};
    });
    REQUIRE(started);
    server_ = std::move(*started);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ServerUnderTest() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_->port(); }
  int handled() const { return handled_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<int> handled_{0};
};

}  // namespace autovibe::testing
