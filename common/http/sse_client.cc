#include "common/http/sse_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <optional>

#include "common/http/client_request.h"
#include "common/http/client_tls.h"

namespace autovibe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

bool SseReply::is_stream() const {
  // Media types are case-insensitive and may carry parameters ("; charset=utf-8").
  constexpr std::string_view kType = "text/event-stream";
  if (status != 200 || content_type.size() < kType.size()) return false;
  for (size_t i = 0; i < kType.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != kType[i]) return false;
  }
  return content_type.size() == kType.size() || content_type[kType.size()] == ';' ||
         content_type[kType.size()] == ' ';
}

bool SseParser::Feed(std::string_view bytes, const SseHandler& on_event) {
  if (!started_ && !bytes.empty()) {
    // A stream may start with a UTF-8 byte-order mark; it is not part of the first field.
    started_ = true;
    if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  }
  for (char c : bytes) {
    if (c == '\n' && after_cr_) {
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c != '\n' && c != '\r') {
      line_ += c;
      continue;
    }
    if (!EndLine(on_event)) return false;
  }
  return true;
}

bool SseParser::EndLine(const SseHandler& on_event) {
  const std::string line = std::move(line_);
  line_.clear();
  if (line.empty()) {
    // The blank line ends an event; one without data is dropped (the standard's rule).
    const bool dispatch = has_data_;
    SseEvent event{event_.empty() ? "message" : std::move(event_), std::move(data_), id_};
    event_.clear();
    data_.clear();
    has_data_ = false;
    return dispatch ? on_event(event) : true;
  }
  if (line.front() == ':') return true;  // a comment, such as a keep-alive
  const auto colon = line.find(':');
  std::string_view name(line), value;
  if (colon != std::string::npos) {
    name = std::string_view(line).substr(0, colon);
    value = std::string_view(line).substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
  }
  Field(name, value);
  return true;
}

void SseParser::Field(std::string_view name, std::string_view value) {
  if (name == "event") {
    event_ = value;
  } else if (name == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  } else if (name == "id" && value.find('\0') == std::string_view::npos) {
    id_ = value;
  }
}

namespace {

struct Target {
  std::string host;
  std::string port;
  std::string resource;
  bool tls = false;
};

Result<Target> ParseTarget(const std::string& url_text) {
  auto url = boost::urls::parse_uri(url_text);
  const bool tls = url && url->scheme() == "https";
  if (!url || (url->scheme() != "http" && !tls) || url->host().empty()) {
    return MakeError(ErrorCode::kBadUrl, "not an http:// or https:// URL: \"" + url_text + "\"");
  }
  Target t{std::string(url->host()),
           url->has_port() ? std::string(url->port()) : (tls ? "443" : "80"),
           std::string(url->encoded_resource()), tls};
  if (t.resource.empty()) t.resource = "/";
  return t;
}

// One connection (plain or TLS) that reads a response body piece by piece as it arrives.
// Beast's timeouts only apply to async operations, so each operation is run to completion on
// a private io_context.
class EventConnection {
 public:
  explicit EventConnection(Target target)
      : target_(std::move(target)), where_(target_.host + ":" + target_.port) {
    parser_.body_limit(boost::none);  // a stream has no end we could know of
  }

  ~EventConnection() {
    if (!plain_ && !tls_stream_) return;
    error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  // Connects, and over TLS shakes hands and checks the server as `call` says.
  Result<void> Connect(const HttpCall& call) {
    tcp::resolver resolver(ioc_);
    error_code ec;
    auto endpoints = resolver.resolve(target_.host, target_.port, ec);
    if (ec)
      return MakeError(ErrorCode::kUnavailable,
                       "cannot resolve " + target_.host + ": " + ec.message());
    if (target_.tls) {
      auto tls = ClientTls::Make(call, target_.host);
      if (!tls) return tls.error();
      tls_ = std::move(*tls);
      tls_stream_.emplace(ioc_, tls_->context());
      if (auto r = tls_->Prepare(tls_stream_->native_handle()); !r) return r.error();
    } else {
      plain_.emplace(ioc_);
    }
    Lowest().expires_after(call.timeout);
    ec = Run([&](auto done) { Lowest().async_connect(endpoints, done); });
    if (ec)
      return MakeError(ErrorCode::kUnavailable,
                       "cannot connect to " + where_ + ": " + ec.message());
    if (!tls_stream_) return {};
    ec =
        Run([&](auto done) { tls_stream_->async_handshake(asio::ssl::stream_base::client, done); });
    return tls_->Check(ec, tls_stream_->native_handle(), where_);
  }

  // Sends the request and reads the response headers.
  Result<void> Request(const HttpCall& call, bool events = true) {
    auto req = MakeClientRequest(call, target_.resource, target_.host);
    if (events) {
      req.set(http::field::accept, "text/event-stream");
      req.set(http::field::cache_control, "no-cache");
    }
    Lowest().expires_after(call.timeout);
    error_code ec = RunOn([&](auto& s, auto done) { http::async_write(s, req, done); });
    if (!ec) {
      ec = RunOn([&](auto& s, auto done) { http::async_read_header(s, buffer_, parser_, done); });
    }
    if (ec == beast::error::timeout) {
      return MakeError(ErrorCode::kUnavailable, "no answer from " + where_ + " within " +
                                                    std::to_string(call.timeout.count()) + " ms");
    }
    if (ec) return MakeError(ErrorCode::kIo, "talking to " + where_ + ": " + ec.message());
    return {};
  }

  int status() const { return parser_.get().result_int(); }
  std::string content_type() const { return std::string(parser_.get()[http::field::content_type]); }

  // Hands the body to `sink` as it arrives until the response ends or `sink` returns false.
  Result<void> ReadBody(std::chrono::milliseconds idle_timeout,
                        const std::function<bool(std::string_view)>& sink) {
    char piece[8192];
    while (!parser_.is_done()) {
      parser_.get().body().data = piece;
      parser_.get().body().size = sizeof piece;
      Lowest().expires_after(idle_timeout);
      error_code ec =
          RunOn([&](auto& s, auto done) { http::async_read_some(s, buffer_, parser_, done); });
      if (ec == http::error::need_buffer) ec = {};
      const size_t n = sizeof piece - parser_.get().body().size;
      if (n > 0 && !sink(std::string_view(piece, n))) return {};
      if (ec == beast::error::timeout) {
        return MakeError(ErrorCode::kIo, "no data from " + where_ + " for " +
                                             std::to_string(idle_timeout.count()) + " ms");
      }
      if (ec) return MakeError(ErrorCode::kIo, "reading from " + where_ + ": " + ec.message());
    }
    return {};
  }

 private:
  template <class Start>
  error_code Run(Start start) {
    error_code result;
    ioc_.restart();
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc_.run();
    return result;
  }

  // Run with the stream in use, plain or TLS, as `op`'s first argument.
  template <class Op>
  error_code RunOn(Op op) {
    if (tls_stream_) return Run([&](auto done) { op(*tls_stream_, done); });
    return Run([&](auto done) { op(*plain_, done); });
  }

  beast::tcp_stream& Lowest() {
    return tls_stream_ ? beast::get_lowest_layer(*tls_stream_) : *plain_;
  }

  Target target_;
  std::string where_;
  asio::io_context ioc_;
  std::unique_ptr<ClientTls> tls_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
};

// The {"error":{"code","message"}} of an error body, as far as it is there.
Error ErrorFromBody(int status, std::string_view body) {
  Error out(ErrorCode::kFailed, std::to_string(status) + ": " + std::string(body));
  error_code ec;
  auto v = boost::json::parse(body, ec);
  const auto* err = !ec && v.is_object() ? v.get_object().if_contains("error") : nullptr;
  if (err == nullptr || !err->is_object()) return out;
  if (const auto* c = err->get_object().if_contains("code"); c && c->is_string()) {
    if (auto code = ParseErrorCode(c->get_string())) out.code = *code;
  }
  if (const auto* m = err->get_object().if_contains("message"); m && m->is_string()) {
    out.message = std::to_string(status) + ": " + std::string(m->get_string());
  }
  return out;
}

}  // namespace

Result<SseReply> StreamEvents(const HttpCall& call, const SseHandler& on_event,
                              std::chrono::milliseconds idle_timeout) {
  auto target = ParseTarget(call.url);
  if (!target) return target.error();
  EventConnection conn(std::move(*target));
  if (auto r = conn.Connect(call); !r) return r.error();
  if (auto r = conn.Request(call); !r) return r.error();

  SseReply reply{conn.status(), conn.content_type(), ""};
  if (!reply.is_stream()) {
    // An error body is small; keep at most 1 MiB of whatever it is.
    constexpr size_t kMaxErrorBody = 1 << 20;
    auto read = conn.ReadBody(call.timeout, [&](std::string_view piece) {
      reply.body.append(piece.substr(0, kMaxErrorBody - reply.body.size()));
      return reply.body.size() < kMaxErrorBody;
    });
    if (!read) return read.error();
    return reply;
  }
  SseParser parser;
  auto read = conn.ReadBody(idle_timeout,
                            [&](std::string_view piece) { return parser.Feed(piece, on_event); });
  if (!read) return read.error();
  return reply;
}

Result<HttpReply> DownloadBody(const HttpCall& call,
                               const std::function<bool(std::string_view)>& sink,
                               std::chrono::milliseconds idle_timeout) {
  auto target = ParseTarget(call.url);
  if (!target) return target.error();
  EventConnection conn(std::move(*target));
  if (auto r = conn.Connect(call); !r) return r.error();
  if (auto r = conn.Request(call, false); !r) return r.error();
  HttpReply reply{conn.status(), conn.content_type(), ""};
  const bool ok = reply.status >= 200 && reply.status <= 299;
  constexpr size_t kMaxErrorBody = 1 << 20;
  auto read = conn.ReadBody(ok ? idle_timeout : call.timeout, [&](std::string_view piece) {
    if (ok) return sink(piece);
    reply.body.append(piece.substr(0, kMaxErrorBody - reply.body.size()));
    return reply.body.size() < kMaxErrorBody;
  });
  if (!read) return read.error();
  return reply;
}

Result<void> FollowEvents(const HttpCall& call, const SseHandler& on_event,
                          std::chrono::milliseconds idle_timeout) {
  auto reply = StreamEvents(call, on_event, idle_timeout);
  if (!reply) return reply.error();
  if (!reply->is_stream()) return ErrorFromBody(reply->status, reply->body);
  return {};
}

}  // namespace autovibe
