// The metering proxy's test harness, in-process: the proxy on its own thread with a fake
// ledger standing in for the agent's lease book, and a tool's HTTP client driven step by step.
// The providers it talks to are fakes (tests/fakes): the real ones cannot be reached from here.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/meter_test_prices.h"
#include "worker-agent/meter/proxy.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter::proxy_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

inline constexpr char kToken[] = "av-task-token-1";
inline constexpr char kAnthropicKey[] = "sk-ant-real-key";
inline constexpr char kOpenAiKey[] = "sk-openai-real-key";

inline const PriceTable& Prices() { return TestPrices(); }

// --- The ledger -----------------------------------------------------------------------------

// Knows one task by kToken (unbound unless told: anyone may use its token); reserves anything
// unless told to refuse; may hold its answer back (a top-up in flight) until the test gives it.
// Called on the proxy's thread.
class FakeLedger final : public CallLedger {
 public:
  std::optional<MeteredTask> TaskForToken(std::string_view token) override {
    if (token != kToken) return std::nullopt;
    std::lock_guard lock(mu_);
    return MeteredTask{"task-1", 1, "proj", uid_, own_listener_};
  }
  // Who may use the task's token from now on (peer_owner.h).
  void Bind(std::optional<uid_t> uid, bool own_listener) {
    std::lock_guard lock(mu_);
    uid_ = uid;
    own_listener_ = own_listener;
  }
  void Reserve(const MeteredTask& task, const ReserveAsk& ask,
               std::function<void(Result<Reservation>)> done) override {
    std::unique_lock lock(mu_);
    asks_.push_back(ask);
    const uint64_t id = asks_.size();
    Reservation r{id, ask.worst};
    std::optional<Error> refusal = refusal_;
    if (cap_ && !ask.worst.FitsIn(*cap_)) {
      // Like a budget with only `cap_` left: as much as it has, if that covers the least.
      if (ask.least.FitsIn(*cap_)) {
        r.held = Amounts::Min(ask.worst, *cap_);
      } else {
        refusal = MakeError(ErrorCode::kBudgetExhausted, "budget usd of project proj is exhausted");
      }
    }
    if (hold_) {
      held_ = [done, r] { done(r); };
      return;
    }
    lock.unlock();
    if (refusal) {
      done(*refusal);
    } else {
      done(r);
    }
  }
  void Settle(uint64_t reservation, v1::UsageRecord record) override {
    std::lock_guard lock(mu_);
    settles_.emplace_back(reservation, std::move(record));
  }

  void Refuse(ErrorCode code, std::string message) {
    std::lock_guard lock(mu_);
    refusal_ = MakeError(code, std::move(message));
  }
  // From now on at most `cap` is held for a call (a budget nearly spent).
  void HoldAtMost(const Amounts& cap) {
    std::lock_guard lock(mu_);
    cap_ = cap;
  }
  std::vector<ReserveAsk> asks() const {
    std::lock_guard lock(mu_);
    return asks_;
  }
  void HoldReservations() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  // The held answer, to be run on the proxy's thread.
  std::function<void()> TakeHeld() {
    std::lock_guard lock(mu_);
    return std::exchange(held_, nullptr);
  }
  // The worst case of each call asked for, in order (reservation id - 1).
  std::vector<Amounts> reserves() const {
    std::lock_guard lock(mu_);
    std::vector<Amounts> out;
    for (const ReserveAsk& a : asks_) out.push_back(a.worst);
    return out;
  }
  std::vector<std::pair<uint64_t, v1::UsageRecord>> settles() const {
    std::lock_guard lock(mu_);
    return settles_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<uid_t> uid_;
  bool own_listener_ = false;
  std::optional<Error> refusal_;
  bool hold_ = false;
  std::function<void()> held_;
  std::vector<ReserveAsk> asks_;
  std::optional<Amounts> cap_;
  std::vector<std::pair<uint64_t, v1::UsageRecord>> settles_;
};

// --- The proxy on its own thread ------------------------------------------------------------

class ProxyUnderTest {
 public:
  // `prices` must outlive the proxy.
  explicit ProxyUnderTest(ProxyOptions options, const PriceTable& prices = Prices()) {
    auto started = StartMeteringProxy(ioc_, std::move(options), ledger_, prices);
    if (!started) FAIL(started.error());
    proxy_ = *std::move(started);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ProxyUnderTest() {
    ioc_.stop();
    thread_.join();
    task_listeners_.clear();
    proxy_.reset();
  }

  uint16_t port() const { return proxy_->port(); }
  // A listener of its own for `task_id`, as a proxy-only task gets one (made here, on
  // 127.0.0.1, instead of in the task's network namespace); its port.
  uint16_t AlsoAccept(const std::string& task_id) {
    tcp::acceptor acceptor(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const uint16_t port = acceptor.local_endpoint().port();
    std::promise<Result<std::unique_ptr<TcpListener>>> made;
    RunOnProxyThread(
        [&, fd = acceptor.release()] { made.set_value(proxy_->AlsoAccept(fd, task_id)); });
    auto listener = made.get_future().get();
    if (!listener) FAIL(listener.error());
    task_listeners_.push_back(*std::move(listener));
    return port;
  }
  FakeLedger& ledger() { return ledger_; }
  void RunOnProxyThread(std::function<void()> f) { asio::post(ioc_, std::move(f)); }

  // Waits for `n` settled calls and returns the last record.
  v1::UsageRecord SettledRecord(size_t n = 1) {
    REQUIRE(testing::WaitUntil([&] { return ledger_.settles().size() >= n; }, 10s));
    auto settles = ledger_.settles();
    REQUIRE(settles.size() == n);
    return settles.back().second;
  }

 private:
  FakeLedger ledger_;  // outlives the io_context, whose pending calls may still settle
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::unique_ptr<MeteringProxy> proxy_;
  std::vector<std::unique_ptr<TcpListener>> task_listeners_;
  std::thread thread_;
};

inline ProxyOptions Options(std::string anthropic_url, std::string openai_url = "") {
  ProxyOptions o;
  o.upstreams["anthropic"] = {.url = std::move(anthropic_url), .api_key = kAnthropicKey};
  o.upstreams["openai"] = {.url = openai_url.empty() ? o.upstreams["anthropic"].url : openai_url,
                           .api_key = kOpenAiKey};
  return o;
}

// --- The tool's side ------------------------------------------------------------------------

using Headers = std::vector<std::pair<std::string, std::string>>;

inline http::request<http::string_body> Post(std::string target, std::string body,
                                             Headers headers) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

inline Headers AnthropicAuth(std::string token = kToken) {
  return {{"x-api-key", token}, {"anthropic-version", "2023-06-01"}};
}
inline Headers OpenAiAuth(std::string token = kToken) {
  return {{"authorization", "Bearer " + token}};
}

// One client connection, driven step by step from the test thread with a deadline on each.
class Tool {
 public:
  explicit Tool(uint16_t port) : stream_(ioc_) {
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(5s);
      auto [ec] = co_await stream_.async_connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
      REQUIRE_FALSE(ec);
    });
  }

  void Send(const http::request<http::string_body>& req) {
    parser_.emplace();
    parser_->body_limit(boost::none);
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(5s);
      auto [ec, n] = co_await http::async_write(stream_, req, kTuple);
      REQUIRE_FALSE(ec);
    });
  }
  void SendRaw(std::string bytes) {
    parser_.emplace();
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(5s);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), kTuple);
      REQUIRE_FALSE(ec);
    });
  }
  const http::response<http::string_body>& ReadHead() {
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(10s);
      auto [ec, n] = co_await http::async_read_header(stream_, buffer_, *parser_, kTuple);
      REQUIRE_FALSE(ec);
    });
    return parser_->get();
  }
  // Reads until the body so far holds `text`, or the answer ends; returns the body so far.
  std::string ReadUntil(std::string_view text) {
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(10s);
      while (!parser_->is_done() && parser_->get().body().find(text) == std::string::npos) {
        auto [ec, n] = co_await http::async_read_some(stream_, buffer_, *parser_, kTuple);
        REQUIRE_FALSE(ec);
      }
    });
    return parser_->get().body();
  }
  // Reads until the body so far holds `text` `count` times, or the answer ends.
  std::string ReadUntilCount(std::string_view text, size_t count) {
    auto seen = [&] {
      const std::string& body = parser_->get().body();
      size_t n = 0;
      for (size_t at = body.find(text); at != std::string::npos; at = body.find(text, at + 1)) ++n;
      return n >= count;
    };
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(10s);
      while (!parser_->is_done() && !seen()) {
        auto [ec, n] = co_await http::async_read_some(stream_, buffer_, *parser_, kTuple);
        REQUIRE_FALSE(ec);
      }
    });
    return parser_->get().body();
  }
  const http::response<http::string_body>& ReadAll() {
    Run([&]() -> asio::awaitable<void> {
      stream_.expires_after(10s);
      auto [ec, n] = co_await http::async_read(stream_, buffer_, *parser_, kTuple);
      REQUIRE_FALSE(ec);
    });
    return parser_->get();
  }
  const http::response<http::string_body>& Call(const http::request<http::string_body>& req) {
    Send(req);
    return ReadAll();
  }
  void HangUp() { stream_.socket().close(); }

 private:
  void Run(std::function<asio::awaitable<void>()> step) {
    auto done = asio::co_spawn(ioc_, step(), asio::use_future);
    ioc_.restart();
    ioc_.run_for(15s);
    REQUIRE(done.wait_for(0s) == std::future_status::ready);
    done.get();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

inline http::response<http::string_body> CallOnce(uint16_t port,
                                                  const http::request<http::string_body>& req) {
  Tool tool(port);
  return tool.Call(req);
}

inline json::value Json(std::string_view body) { return json::parse(body); }

}  // namespace autovibe::meter::proxy_test
