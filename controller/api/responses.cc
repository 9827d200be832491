#include "controller/api/responses.h"

#include <algorithm>
#include <boost/json.hpp>

namespace autovibe {

HttpResponse JsonResponse(int status, const boost::json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = boost::json::serialize(v) + "\n";
  return r;
}

HttpResponse MethodNotAllowed(std::string_view allowed) {
  auto r = JsonError(405, "method_not_allowed", "use " + std::string(allowed));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

HttpResponse ErrorResponse(const Error& e) {
  int status = 500;
  if (e.code == ErrorCode::kNotFound) status = 404;
  if (e.code == ErrorCode::kConflict) status = 409;
  if (e.code == ErrorCode::kBadRequest) status = 400;
  if (e.code == ErrorCode::kUnavailable) status = 503;
  // The database refused a write (full, read-only): nothing changed; try again later.
  if (e.code == ErrorCode::kStore) status = 503;
  // A machine's own failures (a corrupt chunk, a hostile manifest, a workspace too deep or
  // too large to checkpoint) are told as they are.
  const bool told = e.code == ErrorCode::kCorrupt || e.code == ErrorCode::kHostileManifest ||
                    e.code == ErrorCode::kIncomplete || e.code == ErrorCode::kTooLarge;
  return JsonError(status, ErrorName(status == 500 && !told ? ErrorCode::kInternal : e.code),
                   e.message);
}

Result<boost::json::object> ParseJsonObject(const HttpRequest& req) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(req.body, ec);
  if (ec)
    return MakeError(ErrorCode::kBadRequest, "request body is not valid JSON: " + ec.message());
  if (!v.is_object())
    return MakeError(ErrorCode::kBadRequest, "request body must be a JSON object");
  return std::move(v.as_object());
}

Result<boost::json::object> OptionalBody(const HttpRequest& req,
                                         std::initializer_list<std::string_view> allowed) {
  if (req.body.empty()) return boost::json::object();
  auto body = ParseJsonObject(req);
  if (!body) return body.error();
  for (const auto& [k, v] : *body) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(k)) == allowed.end()) {
      return MakeError(ErrorCode::kBadRequest,
                       "unknown field \"" + std::string(k).substr(0, 40) + "\"");
    }
  }
  return body;
}

Result<std::string> OptionalText(const boost::json::object& body, std::string_view key) {
  constexpr size_t kMaxText = 200;
  const boost::json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string() || v->as_string().size() > kMaxText) {
    return MakeError(ErrorCode::kBadRequest, "\"" + std::string(key) +
                                                 "\" must be a string of at most " +
                                                 std::to_string(kMaxText) + " characters");
  }
  return std::string(v->as_string());
}

}  // namespace autovibe
