#include "worker-agent/meter/count_tokens.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <variant>

#include "common/core/awaitable.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using Request = http::request<http::string_body>;

// An answer to a count is a few dozen bytes; anything much larger is not one.
constexpr uint64_t kMaxAnswerBytes = 64 << 10;

template <class Stream>
asio::awaitable<Result<std::string>> Exchange(Stream& stream, UpstreamConnection& conn,
                                              const Request& request, bool& keep) {
  auto [wec, wn] = co_await http::async_write(stream, request, kTuple);
  if (wec)
    co_return MakeError(ErrorCode::kUnavailable, "sending the count failed: " + wec.message());
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  auto [rec, rn] = co_await http::async_read(stream, conn.buffer, parser, kTuple);
  if (rec) co_return MakeError(ErrorCode::kUnavailable, "no count: " + rec.message());
  const auto& res = parser.get();
  keep = res.keep_alive();
  if (res.result_int() != 200) {
    co_return MakeError(ErrorCode::kUnavailable,
                        "the count was answered " + std::to_string(res.result_int()));
  }
  co_return res.body();
}

}  // namespace

int64_t CountedBound(int64_t counted) { return counted + counted / 20 + 64; }

Result<std::string> CountTokensBody(std::string_view messages_body) {
  boost::system::error_code ec;
  json::value doc = json::parse(messages_body, ec);
  if (ec || !doc.is_object()) {
    return MakeError(ErrorCode::kBadRequest, "the request body is not a JSON object");
  }
  json::object out;
  for (std::string_view key : {"model", "system", "tools", "tool_choice", "thinking", "messages"}) {
    if (json::value* v = doc.as_object().if_contains(key)) out[key] = std::move(*v);
  }
  return json::serialize(out);
}

asio::awaitable<Result<int64_t>> TightenByCount(UpstreamPool& pool, const Request& upstream_request,
                                                CallPlan& plan,
                                                std::chrono::steady_clock::time_point deadline) {
  auto body = CountTokensBody(upstream_request.body());
  if (!body) co_return body.error();
  Request count = upstream_request;
  std::string target(upstream_request.target());
  const size_t q = target.find('?');
  target.insert(q == std::string::npos ? target.size() : q, "/count_tokens");
  count.target(target);
  count.body() = std::move(*body);
  count.prepare_payload();

  std::unique_ptr<UpstreamConnection> conn = pool.TakeIdle();
  if (!conn) {
    auto fresh = co_await pool.Connect(deadline);
    if (!fresh) co_return fresh.error();
    conn = std::move(*fresh);
  }
  conn->tcp().expires_at(deadline);
  bool keep = false;
  Result<std::string> answer = co_await std::visit(
      [&](auto& stream) { return Exchange(stream, *conn, count, keep); }, conn->stream);
  if (keep && answer) {
    conn->tcp().expires_never();
    pool.GiveBack(std::move(conn));
  }
  if (!answer) co_return answer.error();
  boost::system::error_code ec;
  json::value doc = json::parse(*answer, ec);
  const json::value* tokens =
      ec || !doc.is_object() ? nullptr : doc.as_object().if_contains("input_tokens");
  if (tokens == nullptr || !tokens->is_int64() || tokens->as_int64() < 0) {
    co_return MakeError(ErrorCode::kUnavailable, "the count's answer has no input_tokens");
  }
  const int64_t counted = tokens->as_int64();
  BoundInput(plan, CountedBound(counted));
  co_return counted;
}

}  // namespace autovibe::meter
