#include "worker-agent/meter/forward.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/core/awaitable.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && beast::iequals(s.substr(0, prefix.size()), prefix);
}

bool IsEventStream(std::string_view content_type) {
  return StartsWithNoCase(content_type, "text/event-stream");
}

// A pooled connection the server closed while it was idle fails within a round trip of the
// request's write; a server that took the request and then failed (or a timer) takes longer.
constexpr Clock::duration kStaleWithin = std::chrono::seconds(1);

// How a read fails on a connection its server had closed: the end of the stream (with TLS,
// without close_notify), or a reset for the request sent after the close.
bool ClosedByServer(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// Parses what was received and not parsed yet (a read stops after one chunk: the next one,
// or the end of the answer, is often in the buffer), so it goes to the tool in the same write.
// A read would only hand it back through the event loop, behind every other call's, and the
// tool would be woken twice.
template <class Parser>
boost::system::error_code ParseReceived(beast::flat_buffer& buffer, Parser& parser) {
  auto& body = parser.get().body();
  while (!parser.is_done() && buffer.size() > 0 && body.size > 0) {
    boost::system::error_code ec;
    size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) return {};
    if (ec) return ec;
    if (used == 0) break;
  }
  return {};
}

// Whether the tool is still there to be written to. Once it is gone, the upstream answer is
// read on for its usage, for at most the drain time: then the connection is closed, which ends
// any read in progress.
class ToolSide {
 public:
  ToolSide(UpstreamConnection& conn, Clock::time_point deadline, Clock::duration drain)
      : conn_(conn), deadline_(deadline), drain_(drain), timer_(conn.tcp().get_executor()) {}
  ~ToolSide() { *live_ = false; }
  ToolSide(const ToolSide&) = delete;
  ToolSide& operator=(const ToolSide&) = delete;

  bool gone() const { return gone_; }
  void Gone() {
    if (gone_) return;
    gone_ = true;
    timer_.expires_at(std::min(deadline_, Clock::now() + drain_));
    timer_.async_wait([this, live = live_](boost::system::error_code ec) {
      if (ec || !*live) return;
      expired_ = true;
      conn_.Close();
    });
  }
  // The drain time ran out (and the connection was closed).
  bool expired() const { return expired_; }

 private:
  UpstreamConnection& conn_;
  Clock::time_point deadline_;
  Clock::duration drain_;
  asio::steady_timer timer_;
  bool gone_ = false;
  bool expired_ = false;
  std::shared_ptr<bool> live_ = std::make_shared<bool>(true);
};

// One attempt on one connection. `stale` is set when the upstream cannot have taken the
// request: it could not be written, or the connection failed at once as one its server had
// closed does. Only then may the request go again on another connection.
template <class Stream>
asio::awaitable<void> Exchange(Stream& stream, UpstreamConnection& conn, const Request& request,
                               Api api, ToolReply& reply, asio::ip::tcp::socket& tool_socket,
                               Clock::time_point deadline, Clock::duration drain, Forwarded& out,
                               bool& stale, bool& keep) {
  conn.tcp().expires_at(deadline);
  auto [wec, wn] = co_await http::async_write(stream, request, kTuple);
  if (wec) {
    out.error = "sending the request failed: " + wec.message();
    stale = true;
    co_return;
  }
  out.request_sent = true;
  const Clock::time_point sent = Clock::now();
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(64 << 10);
  // From here the tool may hang up: the answer is then read on, without it, for its usage.
  ToolSide tool(conn, deadline, drain);
  HangupWatch watch(tool_socket, [&tool] { tool.Gone(); });
  auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer, parser, kTuple);
  out.client_gone = tool.gone();
  if (hec) {
    out.error = "no answer: " + hec.message();
    // Anything else (a timeout, the drain time running out, a server that failed after taking
    // the request for a while) may have been billed: the call is charged, not sent again.
    stale = !parser.got_some() && ClosedByServer(hec) && Clock::now() - sent < kStaleWithin;
    co_return;
  }
  auto& res = parser.get();
  out.http_status = res.result_int();
  bool event_stream = IsEventStream(res[http::field::content_type]);
  UsageReader usage(api, event_stream);
  std::optional<uint64_t> length;
  if (!parser.chunked() && parser.content_length()) length = *parser.content_length();
  if (parser.is_done()) length = 0;  // an answer without a body (204)
  reply.Begin(out.http_status, AnswerFields(res), length);
  // A stream's head goes out at once, unless its first bytes are at hand to go with it; a
  // JSON answer's goes with its first piece (one write to the tool, not two: a tool can do
  // nothing with the head of a JSON answer alone).
  if (event_stream && conn.buffer.size() == 0 && !parser.is_done() && !tool.gone() &&
      !co_await reply.Flush()) {
    tool.Gone();
  }
  char piece[16 << 10];
  bool done = parser.is_done();
  if (done && !tool.gone() && !co_await reply.End()) tool.Gone();  // an answer without a body
  while (!done) {
    res.body().data = piece;
    res.body().size = sizeof piece;
    // Bytes at hand are parsed at once; only with none is there a read.
    auto rec = ParseReceived(conn.buffer, parser);
    if (!rec && !parser.is_done() && res.body().size == sizeof piece) {
      std::tie(rec, std::ignore) =
          co_await http::async_read_some(stream, conn.buffer, parser, kTuple);
      if (rec == http::error::need_buffer) rec = {};
      if (!rec) rec = ParseReceived(conn.buffer, parser);
    }
    std::string_view bytes(piece, sizeof piece - res.body().size);
    done = !rec && parser.is_done();
    // The last piece and the end of the answer go in one write. The piece is read for usage
    // once the tool has it, not before; after the tool hung up, the answer is still read to
    // its usage.
    if (!tool.gone()) {
      bool sent;
      if (done) {
        sent = co_await reply.End(bytes);
      } else {
        sent = co_await reply.Write(bytes);
      }
      if (!sent) tool.Gone();
    }
    usage.Feed(bytes);
    if (rec) {
      out.error = "the answer broke off: " + rec.message();
      break;
    }
  }
  out.usage = usage.Finish();
  out.client_gone = tool.gone();
  out.complete = done;
  keep = done && res.keep_alive();
}

}  // namespace

asio::awaitable<Forwarded> Forward(UpstreamPool& pool, const Request& request, Api api,
                                   ToolReply& reply, asio::ip::tcp::socket& tool_socket,
                                   Clock::time_point deadline, Clock::duration drain_timeout) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<UpstreamConnection> conn = attempt == 0 ? pool.TakeIdle() : nullptr;
    if (!conn) {
      auto fresh = co_await pool.Connect(deadline);
      if (!fresh) co_return Forwarded{.error = fresh.error().message};
      conn = std::move(*fresh);
    }
    Forwarded out;
    bool stale = false, keep = false;
    co_await std::visit(
        [&](auto& stream) {
          return Exchange(stream, *conn, request, api, reply, tool_socket, deadline, drain_timeout,
                          out, stale, keep);
        },
        conn->stream);
    // A pooled connection the server had closed meanwhile: that is no answer of its.
    if (stale && conn->reused && attempt == 0) continue;
    if (keep) {
      conn->tcp().expires_never();
      pool.GiveBack(std::move(conn));
    }
    co_return out;
  }
}

asio::awaitable<Forwarded> SendMock(const MockAnswer& answer, Api api, ToolReply& reply) {
  Forwarded out;
  out.http_status = 200;
  bool stream = IsEventStream(answer.content_type);
  UsageReader usage(api, stream);
  http::fields fields;
  fields.set(http::field::content_type, answer.content_type);
  std::optional<uint64_t> length;
  if (!stream) {
    length = 0;
    for (const auto& p : answer.pieces) *length += p.size();
  }
  reply.Begin(200, fields, length);
  bool ok = true;
  for (size_t i = 0; ok && i < answer.pieces.size(); ++i) {
    usage.Feed(answer.pieces[i]);
    if (i + 1 < answer.pieces.size()) {
      ok = co_await reply.Write(answer.pieces[i]);
    } else {
      ok = co_await reply.End(answer.pieces[i]);
    }
  }
  if (ok && answer.pieces.empty()) ok = co_await reply.End();
  out.complete = ok;
  out.client_gone = !ok;
  out.usage = usage.Finish();
  co_return out;
}

Request UpstreamRequest(const Request& from_tool, Api api, const UpstreamUrl& url,
                        const std::string& api_key, std::string body) {
  std::string_view target = from_tool.target();
  size_t q = target.find('?');
  std::string upstream_target = url.prefix + std::string(RouteOf(api));
  if (q != std::string_view::npos) upstream_target += target.substr(q);

  Request req{http::verb::post, upstream_target, 11};
  req.set(http::field::host, url.host_header());
  static constexpr std::string_view kCopied[] = {
      "anthropic-version",   "anthropic-beta", "content-type", "accept",
      "openai-organization", "openai-project", "openai-beta",  "user-agent"};
  for (std::string_view name : kCopied) {
    auto it = from_tool.find(name);
    if (it != from_tool.end()) req.set(name, it->value());
  }
  if (req.find(http::field::content_type) == req.end()) {
    req.set(http::field::content_type, "application/json");
  }
  // Without it a server may compress the answer, and its usage could not be read.
  req.set(http::field::accept_encoding, "identity");
  if (api == Api::kMessages) {
    req.set("x-api-key", api_key);
  } else {
    req.set(http::field::authorization, "Bearer " + api_key);
  }
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

http::fields AnswerFields(const http::fields& upstream) {
  http::fields out;
  for (const auto& f : upstream) {
    std::string_view name = f.name_string();
    bool pass = beast::iequals(name, "content-type") || beast::iequals(name, "cache-control") ||
                beast::iequals(name, "request-id") || beast::iequals(name, "x-request-id") ||
                beast::iequals(name, "retry-after") || beast::iequals(name, "x-should-retry") ||
                StartsWithNoCase(name, "anthropic-") || StartsWithNoCase(name, "openai-") ||
                StartsWithNoCase(name, "x-ratelimit-");
    if (pass) out.insert(name, f.value());
  }
  return out;
}

}  // namespace autovibe::meter
