#include "common/http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "common/http/client_request.h"
#include "common/http/client_tls.h"

namespace autovibe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Writes the request and reads the answer on a connected stream (plain or TLS).
template <class Stream>
Result<HttpReply> Exchange(asio::io_context& ioc, Stream& stream, const HttpCall& call,
                           const std::string& target, const std::string& host,
                           const std::string& where) {
  auto req = MakeClientRequest(call, target, host);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  boost::system::error_code ec;
  ioc.restart();
  http::async_write(stream, req, [&](boost::system::error_code e, size_t) {
    ec = e;
    if (ec) return;
    http::async_read(stream, buffer, parser,
                     [&](boost::system::error_code e2, size_t) { ec = e2; });
  });
  ioc.run();
  if (ec == beast::error::timeout) {
    return MakeError(ErrorCode::kUnavailable, "no answer from " + where + " within " +
                                                  std::to_string(call.timeout.count()) + " ms");
  }
  if (ec) return MakeError(ErrorCode::kIo, "talking to " + where + ": " + ec.message());
  auto& res = parser.get();
  HttpReply out;
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  return out;
}

}  // namespace

Result<HttpReply> SendHttp(const HttpCall& call) {
  auto url = boost::urls::parse_uri(call.url);
  const bool tls = url && url->scheme() == "https";
  if (!url || (url->scheme() != "http" && !tls) || url->host().empty()) {
    return MakeError(ErrorCode::kBadUrl, "not an http:// or https:// URL: \"" + call.url + "\"");
  }
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : (tls ? "443" : "80");
  std::string target(url->encoded_resource());
  if (target.empty()) target = "/";

  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + ec.message());
  const std::string where = host + ":" + port;

  auto connect = [&](beast::tcp_stream& stream) -> Result<void> {
    stream.expires_after(call.timeout);
    // Beast's timeouts only apply to async operations, so drive them with run().
    stream.async_connect(endpoints,
                         [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    ioc.run();
    if (ec)
      return MakeError(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message());
    return {};
  };
  if (!tls) {
    beast::tcp_stream stream(ioc);
    if (auto r = connect(stream); !r) return r.error();
    auto out = Exchange(ioc, stream, call, target, host, where);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  }
  auto tls_check = ClientTls::Make(call, host);
  if (!tls_check) return tls_check.error();
  beast::ssl_stream<beast::tcp_stream> stream(ioc, (*tls_check)->context());
  if (auto r = (*tls_check)->Prepare(stream.native_handle()); !r) return r.error();
  if (auto r = connect(beast::get_lowest_layer(stream)); !r) return r.error();
  ioc.restart();
  stream.async_handshake(asio::ssl::stream_base::client,
                         [&](boost::system::error_code e) { ec = e; });
  ioc.run();
  if (auto r = (*tls_check)->Check(ec, stream.native_handle(), where); !r) return r.error();
  return Exchange(ioc, stream, call, target, host, where);
}

}  // namespace autovibe
