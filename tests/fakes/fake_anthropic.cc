#include "tests/fakes/fake_anthropic.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <optional>

#include "tests/fakes/anthropic_message.h"
#include "tests/fakes/anthropic_script.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;

HttpResponse AnthropicError(int status, const std::string& type, const std::string& message) {
  HttpResponse res;
  res.status = status;
  res.body = ErrorJson(type, message);
  return res;
}

constexpr std::string_view kBearer = "Bearer ";

bool IsMessagesAnswer(std::string_view answer) {
  return answer == "tool_use" || answer == "final_text" || answer == "side_text";
}

// A 401 when a key is required and the request does not carry it (as x-api-key, or as a
// bearer token, which the real API takes for OAuth).
std::optional<HttpResponse> CheckKey(const std::string& required, const FakeAnthropicRequest& rec) {
  if (required.empty()) return std::nullopt;
  std::string_view key = rec.x_api_key;
  if (key.empty() && rec.authorization.starts_with(kBearer)) {
    key = std::string_view(rec.authorization).substr(kBearer.size());
  }
  if (key.empty()) {
    return AnthropicError(401, "authentication_error", "x-api-key header is required");
  }
  if (key != required) return AnthropicError(401, "authentication_error", "invalid x-api-key");
  return std::nullopt;
}

// The request's max_tokens; nullopt when it is missing or not a positive integer.
std::optional<int64_t> MaxTokens(const json::object& request) {
  const json::value* v = request.if_contains("max_tokens");
  if (v == nullptr || !(v->is_int64() || v->is_uint64())) return std::nullopt;
  boost::system::error_code ec;
  const auto n = v->to_number<int64_t>(ec);
  if (ec || n < 1) return std::nullopt;
  return n;
}

// The script's figures over the derived ones, the output capped at max_tokens as the real API
// caps it; written into `message` and returned.
TokenUsage ApplyUsage(const FakeAnthropicScript& script, const json::object& request,
                      AnthropicMessage& message) {
  AnthropicUsage& u = message.usage;
  TokenUsage usage = script.usage.Apply({.input = u.input_tokens,
                                         .output = u.output_tokens,
                                         .cache_write = u.cache_creation_input_tokens,
                                         .cache_read = u.cache_read_input_tokens});
  if (const auto max = MaxTokens(request); max && usage.output > *max) {
    usage.output = *max;
    message.stop_reason = "max_tokens";
  }
  usage.cache_write_1h = std::min(script.cache_write_1h_tokens, usage.cache_write);
  usage.web_search_requests = script.web_search_requests;
  u = {.input_tokens = usage.input,
       .cache_creation_input_tokens = usage.cache_write,
       .cache_read_input_tokens = usage.cache_read,
       .output_tokens = usage.output,
       .cache_creation_1h_input_tokens = usage.cache_write_1h,
       .web_search_requests = usage.web_search_requests,
       .service_tier = script.service_tier};
  return usage;
}

// Parses a messages (or count_tokens) body; an error response when it is not one. A messages
// request must say max_tokens, a count_tokens one need not.
std::optional<HttpResponse> ParseMessagesBody(const std::string& body, bool needs_max_tokens,
                                              json::object& out) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return AnthropicError(400, "invalid_request_error", "request body is not a JSON object");
  }
  out = std::move(v.get_object());
  const json::value* model = out.if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return AnthropicError(400, "invalid_request_error", "model: Field required");
  }
  const json::value* messages = out.if_contains("messages");
  if (messages == nullptr || !messages->is_array()) {
    return AnthropicError(400, "invalid_request_error", "messages: Field required");
  }
  if (needs_max_tokens && !MaxTokens(out)) {
    return AnthropicError(400, "invalid_request_error",
                          out.contains("max_tokens")
                              ? "max_tokens: Input should be a positive integer"
                              : "max_tokens: Field required");
  }
  return std::nullopt;
}

}  // namespace

FakeAnthropic::FakeAnthropic(FakeAnthropicScript script) : script_(std::move(script)) {}

void FakeAnthropic::SetPacing(AnswerPacing pacing) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.pacing = pacing;
}

void FakeAnthropic::SetCut(std::optional<size_t> after_events) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.cut_after_events = after_events;
}

void FakeAnthropic::SetSideText(std::string text) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.side_text = std::move(text);
}

FakeAnthropic::~FakeAnthropic() = default;

Result<void> FakeAnthropic::Start(const std::string& host, uint16_t port) {
  return server_.Start(host, port, [this](const HttpRequest& req) { return Handle(req); });
}

HttpResponse FakeAnthropic::Handle(const HttpRequest& req) {
  if (req.method == "GET" && req.path == kTallyPath) {
    HttpResponse res;
    res.body = Tally().ToJson();
    return res;
  }
  FakeAnthropicRequest rec{req.method, req.target, req.path, req.body};
  rec.x_api_key = HeaderValue(req, "x-api-key");
  rec.authorization = req.authorization;
  const uint64_t seq = ++seq_;
  HttpResponse res = Answer(req, seq, rec);
  res.headers.emplace_back("request-id", "req_fake" + std::to_string(seq));
  std::lock_guard<std::mutex> lock(mu_);
  if (IsMessagesAnswer(rec.answer)) {
    if (rec.cut) {
      tally_.AddCut();
    } else {
      tally_.Add(rec.usage);
    }
  }
  requests_.push_back(std::move(rec));
  return res;
}

HttpResponse FakeAnthropic::Answer(const HttpRequest& req, uint64_t seq,
                                   FakeAnthropicRequest& rec) {
  // A malformed Authorization is refused as the real API would.
  if (!req.authorization.empty() && !req.authorization.starts_with(kBearer)) {
    rec.answer = "error";
    return AnthropicError(401, "authentication_error", "invalid x-api-key");
  }
  if (req.path == "/" && (req.method == "GET" || req.method == "HEAD")) {
    rec.answer = "root";
    HttpResponse res;
    res.content_type = "text/plain";
    res.body = "ok";
    return res;
  }
  if (auto refused = CheckKey(script_.api_key, rec)) {
    rec.answer = "error";
    return *refused;
  }
  const bool count = req.path == "/v1/messages/count_tokens";
  if (req.method != "POST" || (req.path != "/v1/messages" && !count)) {
    rec.answer = "not_found";
    return AnthropicError(404, "not_found_error", "Not found: " + req.method + " " + req.path);
  }
  json::object body;
  if (auto error = ParseMessagesBody(req.body, !count, body)) {
    rec.answer = "error";
    return *error;
  }
  rec.model = body.at("model").get_string();
  HttpResponse res;
  if (count) {
    rec.answer = "count_tokens";
    res.body = json::serialize(json::object{{"input_tokens", PromptTokens(body)}});
    return res;
  }
  const json::value* stream = body.if_contains("stream");
  rec.stream = stream != nullptr && stream->is_bool() && stream->get_bool();
  FakeAnthropicScript script;
  {
    std::lock_guard<std::mutex> lock(mu_);
    script = script_;
  }
  ScriptedAnswer answer = AnswerMessages(script, body, req.body, seq);
  rec.answer = answer.kind;
  rec.written_path = answer.written_path;
  rec.usage = ApplyUsage(script, body, answer.message);
  std::function<void()> on_end;
  if (auto timing = Timing(body)) {
    on_end = [this, timing] {
      std::lock_guard<std::mutex> lock(mu_);
      timing->answered = std::chrono::steady_clock::now();
    };
  }
  std::vector<std::string> pieces =
      rec.stream ? ToSseEvents(answer.message) : std::vector<std::string>{ToJson(answer.message)};
  rec.cut = script.cut_after_events && *script.cut_after_events < pieces.size();
  if (rec.stream) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("cache-control", "no-cache");
  }
  SetPacedBody(res, std::move(pieces), script.pacing, server_.io_context(), std::move(on_end),
               script.cut_after_events);
  return res;
}

std::shared_ptr<AnswerTiming> FakeAnthropic::Timing(const json::object& request) {
  const json::value* metadata = request.if_contains("metadata");
  const json::value* user =
      metadata && metadata->is_object() ? metadata->get_object().if_contains("user_id") : nullptr;
  if (user == nullptr || !user->is_string()) return nullptr;
  auto timing = std::make_shared<AnswerTiming>();
  timing->user_id = std::string(user->get_string());
  timing->received = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  timings_.push_back(timing);
  return timing;
}

std::vector<AnswerTiming> FakeAnthropic::TakeTimings() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AnswerTiming> out;
  out.reserve(timings_.size());
  for (const auto& t : timings_) out.push_back(*t);
  timings_.clear();
  return out;
}

std::vector<FakeAnthropicRequest> FakeAnthropic::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeAnthropic::CountAnswers(const std::string& answer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(requests_.begin(), requests_.end(),
                       [&](const FakeAnthropicRequest& r) { return r.answer == answer; });
}

UsageTally FakeAnthropic::Tally() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tally_;
}

}  // namespace autovibe::testing
