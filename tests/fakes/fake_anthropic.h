// A fake Anthropic Messages API, for tests and the quickstart only: the real provider cannot be
// reached from here, and a test must not spend money. It answers like the real one where a
// client can tell: `HEAD /` and `GET /` with 200, `POST /v1/messages` (any query, e.g.
// `?beta=true`) with a streamed SSE answer or a JSON message when "stream" is false, with
// `usage` figures, `POST /v1/messages/count_tokens`, and Anthropic-shaped errors (400
// invalid_request_error for a body that is not JSON with "model" and "messages", 401
// authentication_error for a wrong key). `GET /__tally` answers the tally of what it reported
// (UsageTally::ToJson), for tests in other processes; it is not recorded as a request.
//
// Its script plays one coding-agent task: a request that offers the agent's file-writing tool
// ("Write", or any tool taking file_path and content) is answered with a call of that tool; once
// the conversation carries the tool's result, the answer is a final text. Anything else (an
// agent's side calls: titles, quota checks, ...) gets a short text, so a client never hangs.
//
// Runs on its own thread with its own io_context. Public methods are thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"
#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

struct FakeAnthropicScript {
  // The file the agent is asked to write; a relative name is joined to the working directory
  // the agent states in its system prompt. Empty: never call a tool, always answer final_text.
  std::string write_file = "hello.txt";
  std::string content = "hello from autovibe\n";
  std::string final_text = "I wrote the file.";
  std::string side_text = "OK";  // the answer to unscripted requests
  // Read the file first (Claude Code's Write refuses a file that exists and was not read), and
  // run this command with the Bash tool after writing (empty: none), as an agent fixing a
  // test does. Each is one more tool call before the final text.
  bool read_first = false;
  std::string run_command;

  // Non-empty: the only key accepted (x-api-key, or Authorization: Bearer); else 401. Empty:
  // any key or none (Claude Code and the quickstart send a made-up one).
  std::string api_key;
  // The usage figures of every answer; unset ones are derived from the request: input from
  // its size (about four bytes a token; most of it from the prompt cache when the request marks
  // cache breakpoints: written on a first turn, read on a follow-up), output from the answer's.
  // A request's max_tokens caps the output figure (stop_reason "max_tokens") either way.
  UsageOverride usage;
  AnswerPacing pacing;
  // Usage shapes beyond the plain counts, reported by every messages answer: of the cache
  // writes, how many went to the 1-hour cache (at most all of them); server-side web searches
  // (message_delta's usage.server_tool_use in a stream); the tier the answer was served at.
  int64_t cache_write_1h_tokens = 0;
  int64_t web_search_requests = 0;
  std::string service_tier = "standard";
  // Set: every answer is cut off after this many pieces (SSE events; 0 for a JSON answer cuts
  // it before its body), the connection closed mid-answer. Such answers are tallied apart.
  std::optional<size_t> cut_after_events;
};

// One request the fake received, and what it answered.
struct FakeAnthropicRequest {
  std::string method;
  std::string target;  // as sent, with the query
  std::string path;
  std::string body;
  std::string model;  // "" unless a messages request
  bool stream = false;
  std::string x_api_key;      // the x-api-key header, as sent
  std::string authorization;  // the Authorization header, as sent
  // "root", "tool_use", "final_text", "side_text", "count_tokens", "error", "not_found"
  std::string answer;
  bool cut = false;          // the answer was cut off before its end
  std::string written_path;  // for "tool_use": the file_path the fake asked for
  TokenUsage usage;          // what the answer reported (messages answers only)
};

// When a messages request that named itself (metadata.user_id) came in, and when its whole
// answer was handed to the server: what the fake itself spent on it, pacing included.
struct AnswerTiming {
  std::string user_id;
  std::chrono::steady_clock::time_point received;
  std::chrono::steady_clock::time_point answered;  // epoch: not yet
};

class FakeAnthropic {
 public:
  explicit FakeAnthropic(FakeAnthropicScript script = {});
  ~FakeAnthropic();
  FakeAnthropic(const FakeAnthropic&) = delete;
  FakeAnthropic& operator=(const FakeAnthropic&) = delete;

  // Listens on host:port (port 0: a free one) and starts answering. Call once.
  Result<void> Start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  // "http://127.0.0.1:PORT" (what ANTHROPIC_BASE_URL takes). Valid after Start().
  std::string url() const { return server_.url(); }
  uint16_t port() const { return server_.port(); }

  std::vector<FakeAnthropicRequest> requests() const;
  // How many requests got the given answer ("tool_use", "final_text", ...).
  size_t CountAnswers(const std::string& answer) const;
  // The usage of every messages answer so far (not count_tokens), and how many there were;
  // answers cut off are counted apart, their tokens not.
  UsageTally Tally() const;
  // How slowly the answers from now on come, and the text of unscripted ones; until called, the
  // script's.
  void SetPacing(AnswerPacing pacing);
  // Cut the answers from now on after this many events; nullopt: no more cuts.
  void SetCut(std::optional<size_t> after_events);
  void SetSideText(std::string text);
  // The timings of the requests that named themselves since the last call, and forgets them
  // (benchmarks subtract the fake's own time from what a client measured).
  std::vector<AnswerTiming> TakeTimings();

 private:
  // Run on the server thread.
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Answer(const HttpRequest& req, uint64_t seq, FakeAnthropicRequest& rec);
  // A timing for a request that names itself (metadata.user_id), started now; else null.
  std::shared_ptr<AnswerTiming> Timing(const boost::json::object& request);

  FakeAnthropicScript script_;  // pacing, side_text and cuts guarded by mu_, the rest constant
  uint64_t seq_ = 0;            // only touched on the server thread
  mutable std::mutex mu_;
  std::vector<FakeAnthropicRequest> requests_;          // guarded by mu_
  UsageTally tally_;                                    // guarded by mu_
  std::vector<std::shared_ptr<AnswerTiming>> timings_;  // guarded by mu_
  FakeServerThread server_;  // last: stopped before the members its handler uses go
};

}  // namespace autovibe::testing
