#include "tests/fakes/fake_openai.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string_view>

#include "tests/fakes/openai_message.h"
#include "tests/fakes/openai_script.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;

constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kChatPath = "/v1/chat/completions";
constexpr std::string_view kResponsesPath = "/v1/responses";

HttpResponse OpenAIError(int status, const std::string& message,
                         const std::optional<std::string>& param = std::nullopt,
                         const std::optional<std::string>& code = std::nullopt) {
  HttpResponse res;
  res.status = status;
  res.body = OpenAIErrorJson(message, "invalid_request_error", param, code);
  return res;
}

// "sk-a...wxyz", as the real API shows a key it refused.
std::string MaskKey(std::string_view key) {
  if (key.size() <= 8) return std::string(key.size(), '*');
  return std::string(key.substr(0, 3)) + "*****" + std::string(key.substr(key.size() - 4));
}

// A 401 unless the request carries a bearer key (the `required` one, when that is set).
std::optional<HttpResponse> CheckKey(const std::string& required, const std::string& auth) {
  const std::string_view key =
      auth.starts_with(kBearer) ? std::string_view(auth).substr(kBearer.size()) : "";
  if (key.empty()) {
    return OpenAIError(401,
                       "You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                       "YOUR_KEY).");
  }
  if (!required.empty() && key != required) {
    return OpenAIError(401, "Incorrect API key provided: " + MaskKey(key) + ".", std::nullopt,
                       "invalid_api_key");
  }
  return std::nullopt;
}

const char* TypeName(const json::value& v) {
  if (v.is_string()) return "a string";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_bool()) return "a boolean";
  if (v.is_null()) return "null";
  return "a number";
}

// What the fake needs of a valid chat or responses request.
struct ParsedRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::optional<int64_t> max_output;
  bool follow_up = false;    // the conversation already holds an answer
  std::string service_tier;  // as asked ("" if not)
  int64_t choices = 1;       // chat "n"
};

bool HasAnswerInIt(const json::value* items) {
  if (items == nullptr || !items->is_array()) return false;
  return std::any_of(items->get_array().begin(), items->get_array().end(), [](const auto& item) {
    const json::object* o = item.if_object();
    if (o == nullptr) return false;
    const json::value* role = o->if_contains("role");
    const json::value* type = o->if_contains("type");
    return (role && role->is_string() &&
            (role->get_string() == "assistant" || role->get_string() == "tool")) ||
           (type && type->is_string() && type->get_string() == "function_call_output");
  });
}

// Reads the optional field `key` into `out`; an error when it is there but not a positive
// integer.
std::optional<HttpResponse> ReadMaxTokens(const json::object& body, std::string_view key,
                                          std::optional<int64_t>& out) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  const std::string name(key);
  if (!v->is_int64() && !v->is_uint64()) {
    return OpenAIError(400,
                       "Invalid type for '" + name + "': expected an integer, but got " +
                           TypeName(*v) + " instead.",
                       name, "invalid_type");
  }
  boost::system::error_code ec;
  const auto n = v->to_number<int64_t>(ec);
  if (ec || n < 1) {
    return OpenAIError(400,
                       "Invalid '" + name +
                           "': integer below minimum value. Expected a value >= "
                           "1, but got " +
                           json::serialize(*v) + " instead.",
                       name, "integer_below_min_value");
  }
  out = n;
  return std::nullopt;
}

// The conversation of a request: "messages" (chat: a non-empty array) or "input" (responses:
// a string or an array).
std::optional<HttpResponse> CheckConversation(const json::object& body, bool chat) {
  const std::string name = chat ? "messages" : "input";
  const json::value* v = body.if_contains(name);
  if (v == nullptr) {
    return OpenAIError(400, "Missing required parameter: '" + name + "'.", name,
                       "missing_required_parameter");
  }
  if (!v->is_array() && (chat || !v->is_string())) {
    return OpenAIError(400,
                       "Invalid type for '" + name + "': expected " +
                           (chat ? "an array of objects" : "a string or an array") + ", but got " +
                           TypeName(*v) + " instead.",
                       name, "invalid_type");
  }
  if (chat && v->get_array().empty()) {
    return OpenAIError(400,
                       "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                       "but got an empty array instead.",
                       name, "empty_array");
  }
  return std::nullopt;
}

// Parses a chat (or responses) body into `out`; an error response when it is not a request.
std::optional<HttpResponse> ParseRequest(const std::string& text, bool chat, ParsedRequest& out) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return OpenAIError(400,
                       "We could not parse the JSON body of your request. The OpenAI API expects "
                       "a JSON payload.");
  }
  const json::object& body = v.get_object();
  const json::value* model = body.if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return OpenAIError(400, "Missing required parameter: 'model'.", "model",
                       "missing_required_parameter");
  }
  out.model = model->get_string();
  if (auto error = CheckConversation(body, chat)) return error;
  if (const json::value* s = body.if_contains("stream"); s != nullptr && !s->is_null()) {
    if (!s->is_bool()) {
      return OpenAIError(400,
                         std::string("Invalid type for 'stream': expected a boolean, but got ") +
                             TypeName(*s) + " instead.",
                         "stream", "invalid_type");
    }
    out.stream = s->get_bool();
  }
  if (const json::value* so = body.if_contains("stream_options"); so && so->is_object()) {
    const json::value* iu = so->get_object().if_contains("include_usage");
    out.include_usage = iu != nullptr && iu->is_bool() && iu->get_bool();
  }
  for (std::string_view key :
       chat ? std::vector<std::string_view>{"max_completion_tokens", "max_tokens"}
            : std::vector<std::string_view>{"max_output_tokens"}) {
    if (out.max_output) break;
    if (auto error = ReadMaxTokens(body, key, out.max_output)) return error;
  }
  if (const json::value* tier = body.if_contains("service_tier"); tier && tier->is_string()) {
    out.service_tier = tier->get_string();
  }
  if (const json::value* n = body.if_contains("n"); chat && n && n->is_int64()) {
    out.choices = std::max<int64_t>(1, n->get_int64());
  }
  const json::value* previous = body.if_contains("previous_response_id");
  out.follow_up = HasAnswerInIt(body.if_contains(chat ? "messages" : "input")) ||
                  (previous != nullptr && previous->is_string());
  return std::nullopt;
}

// The figures derived from the request, the options' over them, the output capped.
TokenUsage ReportedUsage(const FakeOpenAIOptions& options, const ParsedRequest& req,
                         size_t body_bytes, size_t output_bytes, bool& truncated) {
  TokenUsage derived;
  const int64_t prompt = EstimateTokens(body_bytes);
  // Like OpenAI's automatic prompt caching: prompts of 1024 tokens and more, in steps of 128.
  derived.cache_read = req.follow_up && prompt >= 1024 ? prompt / 2 / 128 * 128 : 0;
  derived.input = prompt - derived.cache_read;
  derived.output = EstimateTokens(output_bytes);
  TokenUsage u = options.usage.Apply(derived);
  u.cache_write = 0;
  truncated = req.max_output && u.output > *req.max_output;
  if (truncated) u.output = *req.max_output;
  u.output *= req.choices;  // each choice is a whole answer
  return u;
}

}  // namespace

FakeOpenAI::FakeOpenAI(FakeOpenAIOptions options) : options_(std::move(options)) {}

FakeOpenAI::~FakeOpenAI() = default;

Result<void> FakeOpenAI::Start(const std::string& host, uint16_t port) {
  return server_.Start(host, port, [this](const HttpRequest& req) { return Handle(req); });
}

HttpResponse FakeOpenAI::Handle(const HttpRequest& req) {
  if (req.method == "GET" && req.path == kTallyPath) {
    HttpResponse res;
    res.body = Tally().ToJson();
    return res;
  }
  FakeOpenAIRequest rec{req.method, req.target, req.path, req.body, req.authorization};
  const uint64_t seq = ++seq_;
  HttpResponse res = Answer(req, seq, rec);
  res.headers.emplace_back("x-request-id", "req_fake" + std::to_string(seq));
  std::lock_guard<std::mutex> lock(mu_);
  if (rec.answer == "chat_completion" || rec.answer == "response" || rec.answer == "tool_call" ||
      rec.answer == "final_text") {
    tally_.Add(rec.usage);
  }
  requests_.push_back(std::move(rec));
  return res;
}

HttpResponse FakeOpenAI::Answer(const HttpRequest& req, uint64_t seq, FakeOpenAIRequest& rec) {
  if (auto refused = CheckKey(options_.api_key, req.authorization)) {
    rec.answer = "error";
    return *refused;
  }
  const bool chat = req.path == kChatPath;
  if (req.method != "POST" || (!chat && req.path != kResponsesPath)) {
    rec.answer = "not_found";
    return OpenAIError(404, "Invalid URL (" + req.method + " " + req.path + ")");
  }
  ParsedRequest parsed;
  if (auto error = ParseRequest(req.body, chat, parsed)) {
    rec.answer = "error";
    return *error;
  }
  rec.model = parsed.model;
  rec.stream = parsed.stream;
  rec.answer = chat ? "chat_completion" : "response";

  OpenAIAnswer a;
  a.id = (chat ? "chatcmpl-fake" : "resp_fake") + std::to_string(seq);
  a.item_id = "msg_fake" + std::to_string(seq);
  a.model = parsed.model;
  a.text = options_.text;
  a.created = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  std::string output_text = options_.text;
  if (!chat && !options_.write_file.empty()) {
    OpenAIScripted script = ScriptResponses(options_, json::parse(req.body).as_object(), seq);
    if (!script.kind.empty()) rec.answer = script.kind;
    rec.written_path = script.written_path;
    a.call = std::move(script.call);
    if (a.call) output_text = a.call->arguments;
  }
  a.usage = ReportedUsage(options_, parsed, req.body.size(), output_text.size(), a.truncated);
  a.service_tier = parsed.service_tier == "default" || parsed.service_tier == "flex" ||
                           parsed.service_tier == "priority"
                       ? parsed.service_tier
                       : options_.default_service_tier;
  rec.usage = a.usage;

  HttpResponse res;
  std::vector<std::string> body;
  if (parsed.stream) {
    res.content_type = "text/event-stream; charset=utf-8";
    res.headers.emplace_back("cache-control", "no-cache");
    body = chat ? ChatCompletionSse(a, parsed.include_usage) : ResponseSse(a);
  } else {
    body = {chat ? ChatCompletionJson(a) : ResponseJson(a)};
  }
  SetPacedBody(res, std::move(body), options_.pacing, server_.io_context());
  return res;
}

std::vector<FakeOpenAIRequest> FakeOpenAI::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeOpenAI::CountAnswers(const std::string& answer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(requests_.begin(), requests_.end(),
                       [&](const FakeOpenAIRequest& r) { return r.answer == answer; });
}

UsageTally FakeOpenAI::Tally() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tally_;
}

}  // namespace autovibe::testing
