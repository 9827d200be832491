#include "worker-agent/meter/proxy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <map>
#include <unordered_set>

#include "common/core/awaitable.h"
#include "common/http/http.h"
#include "common/http/listener.h"
#include "worker-agent/meter/body_budget.h"
#include "worker-agent/meter/call.h"
#include "worker-agent/meter/errors.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;

// How long a tool's idle keep-alive connection is kept, and how long it may take to send a
// request's body once its head is in.
constexpr std::chrono::seconds kIdleTimeout{120};
constexpr std::chrono::seconds kRequestTimeout{60};
constexpr uint32_t kMaxHeaderBytes = 64 << 10;
// A connection's buffer starts small (a head and a short body; a larger one would cost every
// connection an allocation glibc's free() consolidates the heap for) and grows to the body's
// announced length, up to the most Beast reads at once, so a large request arrives in few reads.
constexpr size_t kFirstReadBuffer = 8 << 10;
constexpr size_t kMaxReadBuffer = 64 << 10;

// Which provider's error shape suits a request that reached no route.
Shape GuessShape(const http::request_header<>& h) {
  bool anthropic = h.find("anthropic-version") != h.end() || h.find("x-api-key") != h.end() ||
                   h.target().starts_with("/v1/messages");
  return anthropic ? Shape::kAnthropic : Shape::kOpenAi;
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// The listener's settings. A connection over its caps is answered in Anthropic's shape (an
// OpenAI client reads the status and retry-after all the same).
ListenerOptions ListenerOptionsFor(const ProxyOptions& o) {
  ErrorAnswer busy =
      MakeErrorAnswer(Shape::kAnthropic, Refusal::kUnavailable,
                      "autovibe: too many connections to the metering proxy; retry in a moment", 1);
  HttpResponse answer{.status = busy.status, .body = busy.body, .headers = busy.headers};
  return {.host = o.host,
          .port = o.port,
          .log_prefix = "meter: ",
          .limits = o.limits,
          .refusal = ClosingAnswerBytes(answer)};
}

class Proxy final : public std::enable_shared_from_this<Proxy> {
 public:
  Proxy(ProxyOptions options, CallLedger& ledger, const PriceTable& prices)
      : options_(std::move(options)),
        ledger_(ledger),
        prices_(prices),
        limiter_(options_.requests_per_minute, options_.tokens_per_minute) {}

  Result<void> SetUpProviders(asio::any_io_executor ex) {
    // One TLS context per CA file, whichever providers use it: each holds its own copy of
    // the system's roots.
    std::map<std::string, std::shared_ptr<TlsTrust>> trust;
    for (const auto& [name, settings] : options_.upstreams) {
      if (name != "anthropic" && name != "openai") {
        return MakeError(ErrorCode::kBadConfig,
                         "unknown upstream \"" + name + "\" (expected anthropic or openai)");
      }
      Provider p;
      p.api_key = settings.api_key;
      p.mock = settings.url == "mock";
      if (!p.mock) {
        auto url = ParseUpstreamUrl(settings.url);
        if (!url) return url.error();
        std::shared_ptr<TlsTrust>& tls = trust[settings.ca_file];
        if (url->tls && !tls) {
          auto made = TlsTrust::Create(settings.ca_file);
          if (!made) return made.error();
          tls = std::move(*made);
        }
        p.pool = std::make_unique<UpstreamPool>(ex, *url, tls);
      }
      providers_.emplace(name, std::move(p));
    }
    return {};
  }

  // Binds and starts accepting; each connection is a Session. Every task (and the agent's own
  // user) connects from 127.0.0.1 here, so connections are counted per user, not per address:
  // one task holding its whole allowance leaves the others theirs.
  Result<void> Listen(asio::io_context& ioc) {
    ListenerOptions lo = ListenerOptionsFor(options_);
    lo.client_user = [self = shared_from_this()](const tcp::socket& s) { return self->OwnerOf(s); };
    auto listener = StartTcpListener(ioc, std::move(lo), Accepting(""));
    if (!listener) {
      // The proxy's own wording of the listener's errors.
      const Error& e = listener.error();
      return MakeError(e.code, e.code == ErrorCode::kBadConfig
                                   ? "bad proxy listen address " + options_.host
                                   : "metering proxy " + e.message);
    }
    listener_ = std::move(*listener);
    return {};
  }

  // Another listening socket, made for `task_id`, served like the proxy's own. Only that task
  // reaches it, from whatever addresses its network namespace has: it gets one user's
  // allowance in all.
  Result<std::unique_ptr<TcpListener>> AlsoAccept(asio::io_context& ioc, int fd,
                                                  const std::string& task_id) {
    ListenerOptions lo = ListenerOptionsFor(options_);
    lo.limits.max_connections = options_.limits.max_per_client;
    return AdoptTcpListener(ioc, fd, std::move(lo), Accepting(task_id));
  }

  void Stop() {
    alive_ = false;
    listener_->Stop();
    // Connections waiting for a request close now; the others after their answer.
    boost::system::error_code ec;
    for (beast::tcp_stream* s : idle_) s->socket().close(ec);
  }

  uint16_t port() const { return listener_->port(); }
  const std::string& host() const { return options_.host; }

 private:
  // While a connection waits for a tool's next request, Stop() may close it.
  struct IdleMark {
    std::unordered_set<beast::tcp_stream*>& set;
    beast::tcp_stream* stream;
    IdleMark(std::unordered_set<beast::tcp_stream*>& s, beast::tcp_stream* st)
        : set(s), stream(st) {
      set.insert(stream);
    }
    ~IdleMark() { set.erase(stream); }
  };

  // Serves each connection a listener accepts (`task_listener`: the task it was made for; empty:
  // the proxy's own), knowing where it comes from: on the proxy's own, the listener has asked
  // who owns the client's socket (OwnerOf), once.
  TcpListener::OnAccept Accepting(std::string task_listener) {
    return [self = shared_from_this(), task_listener](tcp::socket s, ConnectionSlot slot) {
      Peer peer{.task_listener = task_listener, .uid = slot.client_user()};
      auto ex = s.get_executor();
      asio::co_spawn(ex, self->Session(std::move(s), std::move(slot), std::move(peer)),
                     asio::detached);
    };
  }

  // Who made the client's socket: once per connection, not per call. Without an answer the
  // connection can use no boxed task's token; the first failure is worth a warning.
  std::optional<uid_t> OwnerOf(const tcp::socket& s) {
    auto uid = peer_owner_.UidOf(s);
    if (uid) return *uid;
    if (!warned_peer_uid_) {
      spdlog::warn("meter: cannot tell who calls the proxy ({}); boxed tasks' calls are refused",
                   uid.error().message);
      warned_peer_uid_ = true;
    } else {
      spdlog::debug("meter: cannot tell who calls the proxy ({})", uid.error().message);
    }
    return std::nullopt;
  }

  asio::awaitable<void> Session(tcp::socket socket, ConnectionSlot slot, Peer peer) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    // Beast reads as much as the buffer's free capacity (at least 512 bytes).
    beast::flat_buffer buffer;
    buffer.reserve(kFirstReadBuffer);
    for (bool first = true; alive_; first = false) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(options_.max_request_bytes);
      boost::system::error_code ec;
      {
        IdleMark idle(idle_, &stream);
        slot.Waiting(stream.socket());
        ec = co_await ReadHead(stream, buffer, parser, first);
        slot.Busy();
      }
      if (ec) {
        if (!buffer.size() && !parser.got_some()) break;  // closed, idle or stopped
        // The head names a body over the limit, or is itself too large; or is not HTTP.
        // (The message is made before co_await: GCC 12 destroys a temporary made in a
        // conditional inside a co_await expression twice.)
        bool too_large = ec == http::error::body_limit || ec == http::error::header_limit;
        std::string message =
            too_large ? TooLarge() : "autovibe: malformed HTTP request: " + ec.message();
        co_await Refuse(stream, 11, Shape::kAnthropic,
                        too_large ? Refusal::kTooLarge : Refusal::kBadRequest, std::move(message));
        break;
      }
      if (!co_await CheckToken(stream, parser.get(), peer)) break;
      std::optional<BodyBudget::Ticket> body_held;  // until the call ends
      if (!co_await ReadBody(stream, buffer, parser, peer, body_held)) break;
      Request& request = parser.get();
      if (!co_await Answer(stream, request, peer)) break;
    }
    // Closed once the handlers already queued have run: a tool that connects anew as it
    // hangs up (as tools calling with a new connection each time do) has its request sent
    // upstream before the old connection's close (a FIN to deliver) is paid for.
    asio::post(stream.get_executor(), [socket = stream.release_socket()] {});
  }

  // A connection's first head must come within header_timeout of the connection; a later one
  // may wait kIdleTimeout for its first byte, then has header_timeout for the rest.
  asio::awaitable<boost::system::error_code> ReadHead(
      beast::tcp_stream& stream, beast::flat_buffer& buffer,
      http::request_parser<http::string_body>& parser, bool first) {
    if (!first && buffer.size() == 0) {
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstReadBuffer), kTuple);
      if (ec) co_return ec;
      buffer.commit(n);
    }
    stream.expires_after(options_.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    co_return ec;
  }

  // A metered call must carry a task's token, which its caller may use: checked on the head,
  // before the body is read.
  asio::awaitable<bool> CheckToken(beast::tcp_stream& stream, const Request& head,
                                   const Peer& peer) {
    if (head.method() != http::verb::post || !ApiForPath(PathOf(head.target()))) co_return true;
    std::string_view token = ProxyToken(head);
    if (!token.empty() && TaskForPeer(ledger_, token, peer)) co_return true;
    if (options_.stats != nullptr) {
      options_.stats->Call(ProviderOf(*ApiForPath(PathOf(head.target()))), "unauthorized");
    }
    co_await Refuse(stream, head.version(), GuessShape(head), Refusal::kUnauthorized,
                    "autovibe: invalid API key: use the proxy key your task was given");
    co_return false;
  }

  // Reads the body after the head: refuses one too large before it is sent when its length
  // is announced, and lets a client waiting on "Expect: 100-continue" go on.
  asio::awaitable<bool> ReadBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                 http::request_parser<http::string_body>& parser, const Peer& peer,
                                 std::optional<BodyBudget::Ticket>& held) {
    Shape shape = GuessShape(parser.get());
    unsigned version = parser.get().version();
    auto length = parser.content_length();
    if (length && *length > options_.max_request_bytes) {
      co_await Refuse(stream, version, shape, Refusal::kTooLarge, TooLarge());
      co_return false;
    }
    // A body of unannounced length (chunked) may be as large as allowed.
    const int64_t bytes = static_cast<int64_t>(length.value_or(options_.max_request_bytes));
    if (bytes > 0 && !parser.is_done()) {
      held = bodies_.Take(BodyClient(peer), bytes);
      if (!held) {
        co_await Refuse(stream, version, shape, Refusal::kUnavailable,
                        "autovibe: too many large requests are in flight from this task; retry "
                        "shortly");
        co_return false;
      }
    }
    stream.expires_after(kRequestTimeout);
    if (length && *length > buffer.capacity()) {
      buffer.reserve(std::min<size_t>(*length, kMaxReadBuffer));
    }
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue), kTuple);
      if (ec) co_return false;
    }
    // A body received with the head is parsed at once: a read would hand it back through the
    // event loop, behind every other call's.
    boost::system::error_code ec;
    while (!parser.is_done() && buffer.size() > 0 && !ec) {
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) ec = {};
      if (used == 0) break;
    }
    if (!ec && !parser.is_done()) {
      std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    if (ec == http::error::body_limit) {
      co_await Refuse(stream, version, shape, Refusal::kTooLarge, TooLarge());
      co_return false;
    }
    if (ec) {
      co_await Refuse(stream, version, shape, Refusal::kBadRequest,
                      "autovibe: malformed HTTP request: " + ec.message());
      co_return false;
    }
    co_return true;
  }

  // Whose request bodies a connection's count against: its task's listener, its user, else
  // everyone whose user is not known.
  static std::string BodyClient(const Peer& peer) {
    if (!peer.task_listener.empty()) return "listener:" + peer.task_listener;
    return peer.uid ? "uid:" + std::to_string(*peer.uid) : "unknown";
  }

  std::string TooLarge() const {
    return "autovibe: the request exceeds " + std::to_string(options_.max_request_bytes) +
           " bytes of body or " + std::to_string(kMaxHeaderBytes) + " bytes of headers";
  }

  // A refusal that ends the connection. What the tool still sends is read and dropped for a
  // moment: closing with unread bytes would reset the connection and could lose the answer.
  asio::awaitable<void> Refuse(beast::tcp_stream& stream, unsigned version, Shape shape,
                               Refusal why, std::string message) {
    ToolReply reply(stream, version, false, false, Clock::now() + std::chrono::seconds(10));
    if (!co_await reply.SendError(MakeErrorAnswer(shape, why, message))) co_return;
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(2));
    char sink[4096];
    while (!ec) {
      std::tie(ec, std::ignore) = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    }
  }

  // Answers one request. Returns whether the connection can carry the next one.
  asio::awaitable<bool> Answer(beast::tcp_stream& stream, Request& request, const Peer& peer) {
    auto received = Clock::now();
    auto deadline = received + options_.upstream_timeout;
    http::verb method = request.method();
    ToolReply reply(stream, request.version(), request.keep_alive() && alive_,
                    method == http::verb::head, deadline);
    std::string_view path = PathOf(request.target());
    auto api = ApiForPath(path);
    if (path == "/" && (method == http::verb::get || method == http::verb::head)) {
      http::fields fields;
      fields.set(http::field::content_type, "application/json");
      co_await reply.Send(200, fields, "{}");
    } else if (api && method == http::verb::post) {
      auto it = providers_.find(std::string(ProviderOf(*api)));
      CallEnv env{ledger_,
                  prices_,
                  limiter_,
                  options_,
                  it == providers_.end() ? nullptr : &it->second,
                  ++calls_,
                  peer,
                  &prefixes_,
                  options_.stats};
      co_await RunCall(env, *api, request, reply, stream.socket(), received, deadline);
    } else {
      co_await reply.SendError(MakeErrorAnswer(
          GuessShape(request), Refusal::kNotFound,
          "autovibe: no route " + std::string(request.method_string()) + " " + std::string(path) +
              " (the proxy serves POST /v1/messages, /v1/chat/completions, /v1/responses)"));
    }
    co_return reply.reusable() && alive_;
  }

  ProxyOptions options_;
  CallLedger& ledger_;
  const PriceTable& prices_;
  RateLimiter limiter_;
  PrefixBook prefixes_;  // what each task's earlier calls already counted
  PeerOwner peer_owner_;
  // Request bodies held at once: four of the largest per client, 32 in all.
  BodyBudget bodies_{4 * static_cast<int64_t>(options_.max_request_bytes),
                     32 * static_cast<int64_t>(options_.max_request_bytes)};
  std::map<std::string, Provider, std::less<>> providers_;
  std::unordered_set<beast::tcp_stream*> idle_;
  std::unique_ptr<TcpListener> listener_;
  uint64_t calls_ = 0;
  bool alive_ = true;
  bool warned_peer_uid_ = false;
};

// Owns the proxy through a shared_ptr, so its coroutines can outlive the handle.
class ProxyHandle final : public MeteringProxy {
 public:
  ProxyHandle(asio::io_context& ioc, std::shared_ptr<Proxy> p) : ioc_(ioc), p_(std::move(p)) {}
  ~ProxyHandle() override { p_->Stop(); }
  uint16_t port() const override { return p_->port(); }
  std::string url() const override {
    const std::string& h = p_->host();
    std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
    return "http://" + host + ":" + std::to_string(p_->port());
  }
  void Stop() override { p_->Stop(); }
  Result<std::unique_ptr<TcpListener>> AlsoAccept(int fd, const std::string& task_id) override {
    return p_->AlsoAccept(ioc_, fd, task_id);
  }

 private:
  asio::io_context& ioc_;
  std::shared_ptr<Proxy> p_;
};

}  // namespace

ConnectionLimits ProxyConnectionLimits(uint32_t task_slots, bool shared_user, uint64_t open_files) {
  constexpr uint64_t kAtLeast = 4096;
  const uint64_t room = std::max<uint64_t>(open_files > 512 ? open_files - 256 : open_files / 2, 1);
  const uint64_t users = uint64_t{task_slots} + 1;  // and the agent's own
  const uint64_t overall = std::min(room, std::max(kAtLeast, users * kConnectionsPerUser));
  const uint64_t per_user =
      shared_user ? overall : std::clamp<uint64_t>(overall / users, 1, kConnectionsPerUser);
  return {.max_connections = static_cast<size_t>(overall),
          .max_per_client = static_cast<size_t>(per_user)};
}

Result<std::unique_ptr<MeteringProxy>> StartMeteringProxy(asio::io_context& ioc,
                                                          ProxyOptions options, CallLedger& ledger,
                                                          const PriceTable& prices) {
  auto proxy = std::make_shared<Proxy>(std::move(options), ledger, prices);
  if (auto r = proxy->SetUpProviders(ioc.get_executor()); !r) return r.error();
  if (auto r = proxy->Listen(ioc); !r) return r.error();
  return std::unique_ptr<MeteringProxy>(new ProxyHandle(ioc, std::move(proxy)));
}

}  // namespace autovibe::meter
