#include "common/http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "common/http/client_request.h"

namespace autovibe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpReply> SendHttp(const HttpCall& call) {
  auto url = boost::urls::parse_uri(call.url);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    return MakeError("bad_url", "not an http:// URL: \"" + call.url + "\"");
  }
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string target(url->encoded_resource());
  if (target.empty()) target = "/";

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return MakeError("unreachable", "cannot resolve " + host + ": " + ec.message());

  stream.expires_after(call.timeout);
  const std::string where = host + ":" + port;
  // Beast's timeouts only apply to async operations, so drive them with run().
  stream.async_connect(endpoints,
                       [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
  ioc.run();
  if (ec) return MakeError("unreachable", "cannot connect to " + where + ": " + ec.message());

  auto req = MakeClientRequest(call, target, host);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  ioc.restart();
  http::async_write(stream, req, [&](boost::system::error_code e, size_t) {
    ec = e;
    if (ec) return;
    http::async_read(stream, buffer, parser,
                     [&](boost::system::error_code e2, size_t) { ec = e2; });
  });
  ioc.run();
  if (ec == beast::error::timeout) {
    return MakeError("unreachable", "no answer from " + where + " within " +
                                        std::to_string(call.timeout.count()) + " ms");
  }
  if (ec) return MakeError("io", "talking to " + where + ": " + ec.message());
  auto& res = parser.get();
  HttpReply out;
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace autovibe
