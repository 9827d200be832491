#include "worker-agent/meter/upstream.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>

#include "common/core/awaitable.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Error BadUrl(std::string_view url, std::string_view why) {
  return MakeError(ErrorCode::kBadConfig, "upstream URL \"" + std::string(url) + "\" " +
                                              std::string(why) +
                                              " (expected http(s)://HOST[:PORT][/PREFIX] or mock)");
}

bool IsAddress(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// An idle connection the server has closed (or written to, which it does only to say it is
// closing: an HTTP server sends nothing unasked, a TLS one a close_notify) is readable.
bool LooksOpen(UpstreamConnection& conn) {
  char byte;
  ssize_t n = ::recv(conn.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::string UpstreamUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) h += ":" + port;
  return h;
}

Result<UpstreamUrl> ParseUpstreamUrl(std::string_view url) {
  UpstreamUrl out;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return BadUrl(url, "has no http:// or https:// scheme");
  }
  if (rest.find_first_of("?#@ ") != std::string_view::npos) {
    return BadUrl(url, "may not carry a query, fragment, user or space");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.prefix = std::string(path);

  std::string_view port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "has an unclosed [");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return BadUrl(url, "has junk after ]");
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return BadUrl(url, "has no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535) {
      return BadUrl(url, "has a bad port");
    }
    out.port = std::to_string(n);
  }
  for (char& c : out.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

beast::tcp_stream& UpstreamConnection::tcp() {
  return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                    stream);
}

void UpstreamConnection::Close() {
  boost::system::error_code ignored;
  tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp().socket().close(ignored);
}

UpstreamPool::UpstreamPool(asio::any_io_executor ex, UpstreamUrl url, std::shared_ptr<TlsTrust> tls)
    : ex_(ex), url_(std::move(url)), tls_(std::move(tls)), resolver_(ex) {}

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle() {
  auto now = Clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<UpstreamConnection> conn = std::move(idle_.back());
    idle_.pop_back();
    if (conn->idle_since + kMaxIdleAge <= now) {
      idle_.clear();  // the rest are older still
      return nullptr;
    }
    // One just given back is taken as is: the check costs a system call, and a connection
    // closed meanwhile is still caught by the retry.
    if (now - conn->idle_since < std::chrono::seconds(1) || LooksOpen(*conn)) return conn;
  }
  return nullptr;
}

void UpstreamPool::GiveBack(std::unique_ptr<UpstreamConnection> conn) {
  conn->idle_since = Clock::now();
  conn->reused = true;
  if (idle_.size() >= kMaxIdle) idle_.erase(idle_.begin());
  idle_.push_back(std::move(conn));
}

asio::awaitable<Result<std::unique_ptr<UpstreamConnection>>> UpstreamPool::Connect(
    Clock::time_point deadline) {
  ssl::context* context = nullptr;
  if (url_.tls) {
    auto made = tls_->Context();
    if (!made) co_return made.error();
    context = *made;
  }
  std::string where = url_.host + ":" + url_.port;
  auto [rec, endpoints] = co_await resolver_.async_resolve(url_.host, url_.port, kTuple);
  if (rec)
    co_return MakeError(ErrorCode::kUnavailable,
                        "cannot resolve " + url_.host + ": " + rec.message());

  beast::tcp_stream stream(ex_);
  stream.expires_at(std::min(deadline, Clock::now() + kConnectTimeout));
  auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
  if (cec)
    co_return MakeError(ErrorCode::kUnavailable,
                        "cannot connect to " + where + ": " + cec.message());
  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  if (!url_.tls) {
    stream.expires_never();
    co_return std::make_unique<UpstreamConnection>(std::move(stream));
  }

  UpstreamConnection::Tls tls(std::move(stream), *context);
  // SNI takes a name, never an address.
  if (!IsAddress(url_.host)) SSL_set_tlsext_host_name(tls.native_handle(), url_.host.c_str());
  tls.set_verify_callback(ssl::host_name_verification(url_.host));
  auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
  if (hec) {
    co_return MakeError(ErrorCode::kUnavailable,
                        "TLS handshake with " + where + " failed: " + hec.message());
  }
  beast::get_lowest_layer(tls).expires_never();
  co_return std::make_unique<UpstreamConnection>(std::move(tls));
}

}  // namespace autovibe::meter
