#include "tests/fakes/fake_anthropic.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <optional>

#include "common/http/server.h"
#include "tests/fakes/anthropic_message.h"
#include "tests/fakes/anthropic_script.h"

namespace autovibe::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

HttpResponse AnthropicError(int status, const std::string& type, const std::string& message) {
  HttpResponse res;
  res.status = status;
  res.body = ErrorJson(type, message);
  return res;
}

// Parses a messages (or count_tokens) body; an error response when it is not one.
std::optional<HttpResponse> ParseMessagesBody(const std::string& body, json::object& out) {
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
  return std::nullopt;
}

}  // namespace

struct FakeAnthropic::Server {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::unique_ptr<HttpServer> http;
  uint64_t seq = 0;  // only touched on the server thread
};

FakeAnthropic::FakeAnthropic(FakeAnthropicScript script) : script_(std::move(script)) {}

FakeAnthropic::~FakeAnthropic() {
  if (!server_) return;
  // Once the thread is gone, nothing else touches the server: it closes on this thread.
  server_->ioc.stop();
  thread_.join();
}

Result<void> FakeAnthropic::Start(const std::string& host, uint16_t port) {
  auto server = std::make_unique<Server>();
  HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.max_body_bytes = 64 << 20;  // an agent's prompt with its tool schemas is large
  Server* s = server.get();
  auto http = StartHttpServer(s->ioc, options, [this, s](const HttpRequest& req) {
    FakeAnthropicRequest rec{req.method, req.target, req.path, req.body};
    HttpResponse res = Answer(req, ++s->seq, rec);
    res.headers.emplace_back("request-id", "req_fake" + std::to_string(s->seq));
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(rec));
    return res;
  });
  if (!http) return http.error();
  s->http = std::move(*http);
  host_ = host;
  port_ = s->http->port();
  server_ = std::move(server);
  thread_ = std::thread([s] { s->ioc.run(); });
  return {};
}

HttpResponse FakeAnthropic::Answer(const HttpRequest& req, uint64_t seq,
                                   FakeAnthropicRequest& rec) const {
  // Only Authorization is visible here, not x-api-key; a malformed one is refused as the real
  // API would.
  if (!req.authorization.empty() && req.authorization.rfind("Bearer ", 0) != 0) {
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
  const bool count = req.path == "/v1/messages/count_tokens";
  if (req.method != "POST" || (req.path != "/v1/messages" && !count)) {
    rec.answer = "not_found";
    return AnthropicError(404, "not_found_error", "Not found: " + req.method + " " + req.path);
  }
  json::object body;
  if (auto error = ParseMessagesBody(req.body, body)) {
    rec.answer = "error";
    return *error;
  }
  rec.model = body.at("model").get_string();
  HttpResponse res;
  if (count) {
    rec.answer = "count_tokens";
    res.body = json::serialize(json::object{{"input_tokens", EstimateTokens(req.body.size())}});
    return res;
  }
  const json::value* stream = body.if_contains("stream");
  rec.stream = stream != nullptr && stream->is_bool() && stream->get_bool();
  ScriptedAnswer answer = AnswerMessages(script_, body, req.body, seq);
  rec.answer = answer.kind;
  rec.written_path = answer.written_path;
  if (rec.stream) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("cache-control", "no-cache");
    res.body = ToSse(answer.message);
  } else {
    res.body = ToJson(answer.message);
  }
  return res;
}

std::string FakeAnthropic::url() const { return "http://" + host_ + ":" + std::to_string(port_); }

std::vector<FakeAnthropicRequest> FakeAnthropic::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeAnthropic::CountAnswers(const std::string& answer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(requests_.begin(), requests_.end(),
                       [&](const FakeAnthropicRequest& r) { return r.answer == answer; });
}

}  // namespace autovibe::testing
