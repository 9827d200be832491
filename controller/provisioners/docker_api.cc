#include "controller/provisioners/docker_api.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace autovibe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::local::stream_protocol::socket;

constexpr size_t kMaxReply = 16 << 20;

}  // namespace

DockerApi::DockerApi(std::string socket) : socket_(std::move(socket)) {
  if (socket_.starts_with("unix://")) socket_ = socket_.substr(7);
}

Result<DockerReply> DockerApi::Call(std::string_view method, const std::string& target,
                                    const std::string& body,
                                    std::chrono::milliseconds timeout) const {
  asio::io_context ioc;
  beast::basic_stream<asio::local::stream_protocol> stream(ioc);
  stream.expires_after(timeout);
  beast::error_code ec;
  stream.socket().connect(asio::local::stream_protocol::endpoint(socket_), ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable,
                     "no Docker daemon at " + socket_ + ": " + ec.message());
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "docker");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  DockerReply out;
  bool done = false;
  http::async_write(stream, req, [&](beast::error_code e, size_t) {
    if (e) {
      ec = e;
      done = true;
      return;
    }
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto parser = std::make_shared<http::response_parser<http::string_body>>();
    parser->body_limit(kMaxReply);
    http::async_read(stream, *buffer, *parser, [&, buffer, parser](beast::error_code e, size_t) {
      ec = e;
      done = true;
      if (!e) {
        out.status = parser->get().result_int();
        out.body = std::move(parser->get().body());
      }
    });
  });
  ioc.run();
  if (!done || ec) {
    return MakeError(ErrorCode::kUnavailable, "Docker " + std::string(method) + " " + target +
                                                  ": " +
                                                  (ec ? ec.message() : std::string("no answer")));
  }
  return out;
}

std::string DockerMessage(const DockerReply& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("message"); m != nullptr && m->is_string()) {
      return std::string(m->as_string());
    }
  }
  return r.body.substr(0, 300);
}

}  // namespace autovibe
