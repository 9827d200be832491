// The connections to one provider: its URL, TLS settings, and a pool of keep-alive
// connections that calls take and give back.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/meter/tls_trust.h"

namespace autovibe::meter {

// "https://api.anthropic.com", "http://127.0.0.1:9000/anthropic": the scheme, host, port and
// a path prefix put before each route.
struct UpstreamUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::string port;
  std::string prefix;  // "" or "/anthropic" (no trailing slash)
  // The Host header: host[:port], the port only when it is not the scheme's.
  std::string host_header() const;
};

// Fails with "bad_config" on anything but http(s)://host[:port][/prefix] (no query, no user).
Result<UpstreamUrl> ParseUpstreamUrl(std::string_view url);

// One connection to the upstream, plain or TLS; `buffer` holds bytes read past the last answer.
struct UpstreamConnection {
  using Plain = boost::beast::tcp_stream;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // Reads go through `buffer` in pieces as large as its capacity (at least 512 bytes).
  static constexpr size_t kReadBuffer = 32 << 10;
  explicit UpstreamConnection(Plain s) : stream(std::move(s)) { buffer.reserve(kReadBuffer); }
  explicit UpstreamConnection(Tls s) : stream(std::move(s)) { buffer.reserve(kReadBuffer); }

  boost::beast::tcp_stream& tcp();
  // Closes the socket: any read or write in progress ends with an error.
  void Close();

  std::variant<Plain, Tls> stream;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;  // it has carried an earlier call
};

class UpstreamPool {
 public:
  static constexpr size_t kMaxIdle = 64;
  // An idle connection older than this is not reused: servers close them after a while
  // (commonly 60 s or more), and a connection they closed costs a failed attempt.
  static constexpr std::chrono::seconds kMaxIdleAge{30};
  static constexpr std::chrono::seconds kConnectTimeout{10};

  // `tls`: what an https URL's certificate is checked against (pools may share it); unused,
  // and may be null, for http.
  UpstreamPool(boost::asio::any_io_executor ex, UpstreamUrl url, std::shared_ptr<TlsTrust> tls);

  const UpstreamUrl& url() const { return url_; }

  // An idle connection (the most recently used), or null.
  std::unique_ptr<UpstreamConnection> TakeIdle();
  // A new connection: resolved, connected, TLS handshake done with the peer's certificate and
  // name verified. Fails with kUnavailable saying why (or kBadConfig when the CA file
  // cannot be loaded); `deadline` bounds it all.
  boost::asio::awaitable<Result<std::unique_ptr<UpstreamConnection>>> Connect(
      std::chrono::steady_clock::time_point deadline);
  // A connection whose last answer was read to its end and that the server keeps open.
  void GiveBack(std::unique_ptr<UpstreamConnection> conn);

 private:
  boost::asio::any_io_executor ex_;
  UpstreamUrl url_;
  std::shared_ptr<TlsTrust> tls_;
  boost::asio::ip::tcp::resolver resolver_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
};

}  // namespace autovibe::meter
