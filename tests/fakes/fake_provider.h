// What the fake LLM providers (fake_anthropic.h, fake_openai.h) share: the usage figures they
// report, the tally of everything they reported, slow answers, and the thread they serve on.
// For tests and benchmarks only: the real providers cannot be reached from here.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"
#include "common/http/server.h"

namespace autovibe::testing {

// The tokens of one answer, by kind. `input` excludes what was written to or read from the
// prompt cache, as Anthropic counts; for OpenAI, whose prompt_tokens include the cached ones,
// input = prompt_tokens - cached_tokens and cache_read = cached_tokens (it has no cache
// writes). So input + output + cache_write + cache_read is every token of the call.
struct TokenUsage {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_write = 0;
  int64_t cache_read = 0;
  int64_t cache_write_1h = 0;       // of cache_write, those to the 1-hour cache (Anthropic)
  int64_t web_search_requests = 0;  // server-side web searches (Anthropic), not tokens

  int64_t total() const { return input + output + cache_write + cache_read; }
  friend bool operator==(const TokenUsage&, const TokenUsage&) = default;
};

// Figures a fake reports for every answer instead of those it derives from the request (unset:
// derived, so different requests report different figures). A request's max tokens still caps
// the output, as the real APIs do.
struct UsageOverride {
  std::optional<int64_t> input_tokens;
  std::optional<int64_t> output_tokens;
  std::optional<int64_t> cache_write_tokens;  // not reported by OpenAI
  std::optional<int64_t> cache_read_tokens;

  TokenUsage Apply(TokenUsage derived) const;
};

// How slowly a fake answers, to play a slow model; zero: at once. With a delay the body is
// written over time (chunked; over HTTP/1.0 the connection closes after it); the status and
// headers go out at once.
struct AnswerPacing {
  std::chrono::milliseconds answer_delay{0};  // before the first byte of the body
  std::chrono::milliseconds event_delay{0};   // between a stream's events

  bool immediate() const { return answer_delay.count() <= 0 && event_delay.count() <= 0; }
};

// Everything a fake has served since it started: answered calls and the usage they reported
// whole. An answer the fake was told to cut off before its final usage is counted apart
// (cut_calls), its tokens not: a client can only estimate what such a call cost.
struct UsageTally {
  int64_t calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cache_write_1h_tokens = 0;
  int64_t web_search_requests = 0;
  int64_t cut_calls = 0;

  void Add(const TokenUsage& usage);
  void AddCut() { ++cut_calls; }
  // {"calls":N,"input_tokens":N,"output_tokens":N,"cache_write_tokens":N,"cache_read_tokens":N,
  // "cache_write_1h_tokens":N,"web_search_requests":N,"cut_calls":N}, what GET /__tally answers.
  std::string ToJson() const;
  friend bool operator==(const UsageTally&, const UsageTally&) = default;
};

// The path at which every fake serves its tally (GET), for tests in other processes.
inline constexpr std::string_view kTallyPath = "/__tally";

// Roughly four bytes a token, at least one.
int64_t EstimateTokens(size_t bytes);

// `text` in pieces of at most `max_bytes` (at least 1), never cutting a UTF-8 character: the
// deltas of a streamed answer, which a client must put back together.
std::vector<std::string> SplitText(std::string_view text, size_t max_bytes);

// An HttpServer on its own thread and io_context. The handler runs on that thread.
class FakeServerThread {
 public:
  FakeServerThread() = default;
  // Stops the thread; the server closes on the destroying thread once nothing else runs.
  ~FakeServerThread();
  FakeServerThread(const FakeServerThread&) = delete;
  FakeServerThread& operator=(const FakeServerThread&) = delete;

  // Listens on host:port (port 0: a free one) and starts the thread. Call once.
  Result<void> Start(const std::string& host, uint16_t port, HttpServer::Handler handler);

  // "http://HOST:PORT". Valid after Start().
  std::string url() const;
  uint16_t port() const { return port_; }
  boost::asio::io_context& io_context() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc_);
  std::unique_ptr<HttpServer> http_;
  std::string host_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Sets `res.body` to the pieces joined, or, when `pacing` asks for delays, writes them one by
// one on `ioc`'s thread (the server's): the first after answer_delay, each next one after
// event_delay. Stops early when the client goes. `on_end` (if set) runs once the whole body is
// handed to the server: at once for an immediate answer, on `ioc`'s thread for a paced one.
// With `cut_after`, only that many pieces are written and the connection is then closed
// without the body's end (on_end does not run), as when a provider's server dies mid-answer.
void SetPacedBody(HttpResponse& res, std::vector<std::string> pieces, const AnswerPacing& pacing,
                  boost::asio::io_context& ioc, std::function<void()> on_end = {},
                  std::optional<size_t> cut_after = std::nullopt);

}  // namespace autovibe::testing
