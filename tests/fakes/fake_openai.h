// A fake OpenAI API, for tests and benchmarks only: the real provider cannot be reached from
// here, and a test must not spend money. It answers like the real one where a client can tell:
//  - `POST /v1/chat/completions`: a `chat.completion` JSON answer with `usage{prompt_tokens,
//    completion_tokens, total_tokens, prompt_tokens_details{cached_tokens}}`; with "stream":
//    true `data: {chat.completion.chunk}` SSE lines, a last chunk with empty `choices` and the
//    usage when stream_options.include_usage is true, then `data: [DONE]`.
//  - `POST /v1/responses`: a `response` JSON object with `usage{input_tokens, output_tokens,
//    total_tokens, input_tokens_details{cached_tokens}}`; with "stream": true the `response.*`
//    events from `response.created` through `response.output_text.delta` to
//    `response.completed` (or `response.incomplete` when cut at max_output_tokens), which
//    carries the whole response and its usage.
//  - OpenAI-shaped errors `{"error":{"message","type","param","code"}}`: 401 without a bearer
//    key (or with another than FakeOpenAIOptions::api_key), 400 for a body that is not a
//    request, 404 for other paths.
//  - `GET /__tally`: the tally of what it reported (UsageTally::ToJson), for tests in other
//    processes; not recorded as a request.
// Every answer is the same text; only the usage figures follow the request. With a
// `write_file`, responses requests play a coding agent's task instead (openai_script.h): one
// call of the shell tool the request offers that writes the file, then, once the tool's output
// comes back, the text as the final answer.
//
// Runs on its own thread with its own io_context. Public methods are thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"
#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

struct FakeOpenAIOptions {
  std::string text = "OK";  // the answer to every request
  // Non-empty: the only bearer key accepted; empty: any non-empty one.
  std::string api_key;
  // The usage figures of every answer (cache_write_tokens is ignored: OpenAI reports none);
  // unset ones are derived from the request: prompt tokens from its size (about four bytes a
  // token; half of a prompt of 1024 tokens or more comes from the cache once the conversation
  // has an earlier answer in it), output from the text's. The request's max_completion_tokens
  // (or max_tokens, or max_output_tokens) caps the output figure, and the answer then says it
  // was cut (finish_reason "length", status "incomplete").
  UsageOverride usage;
  AnswerPacing pacing;
  // The tier an answer says it was served at when the request asks for "auto" or none (a
  // request for "default", "flex" or "priority" gets that). A chat request's n > 1 reports the
  // output of n answers.
  std::string default_service_tier = "default";
  // The file a coding agent on the Responses API (Codex) is asked to write, and what it
  // writes; empty: no script.
  std::string write_file;
  std::string content = "hello from autovibe\n";
  std::string then_run;  // a shell command the same tool call runs once the file is written
};

// One request the fake received, and what it answered.
struct FakeOpenAIRequest {
  std::string method;
  std::string target;  // as sent, with the query
  std::string path;
  std::string body;
  std::string authorization;  // the Authorization header, as sent
  std::string model;          // "" unless a valid request
  bool stream = false;
  // "chat_completion", "response", "tool_call", "final_text" (the script's responses),
  // "error" or "not_found".
  std::string answer;
  std::string written_path;  // for "tool_call": the file its command writes
  TokenUsage usage;          // what the answer reported (answered calls only)
};

class FakeOpenAI {
 public:
  explicit FakeOpenAI(FakeOpenAIOptions options = {});
  ~FakeOpenAI();
  FakeOpenAI(const FakeOpenAI&) = delete;
  FakeOpenAI& operator=(const FakeOpenAI&) = delete;

  // Listens on host:port (port 0: a free one) and starts answering. Call once.
  Result<void> Start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  // "http://127.0.0.1:PORT"; OPENAI_BASE_URL takes it with "/v1" appended. Valid after Start().
  std::string url() const { return server_.url(); }
  uint16_t port() const { return server_.port(); }

  std::vector<FakeOpenAIRequest> requests() const;
  // How many requests got the given answer ("chat_completion", "response", ...).
  size_t CountAnswers(const std::string& answer) const;
  // The usage of every answered call so far, and how many there were.
  UsageTally Tally() const;

 private:
  // Run on the server thread.
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Answer(const HttpRequest& req, uint64_t seq, FakeOpenAIRequest& rec);

  const FakeOpenAIOptions options_;
  uint64_t seq_ = 0;  // only touched on the server thread
  mutable std::mutex mu_;
  std::vector<FakeOpenAIRequest> requests_;  // guarded by mu_
  UsageTally tally_;                         // guarded by mu_
  FakeServerThread server_;                  // last: stopped before the members its handler uses go
};

}  // namespace autovibe::testing
