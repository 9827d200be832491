#include "controller/api/tokens_api.h"

#include <boost/json.hpp>

#include "common/core/time.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// A token's request is a few hundred bytes; a project list of 100 long names fits well.
constexpr size_t kMaxTokenBodyBytes = 16 << 10;

json::object TokenJson(const ApiToken& t, int64_t now_ms) {
  json::array projects;
  for (const auto& p : t.projects) projects.emplace_back(p);
  json::object o{{"name", t.name},
                 {"role", ToString(t.role)},
                 {"projects", std::move(projects)},
                 {"created_at", FormatRfc3339(t.created_at_ms)},
                 {"expired", t.expired(now_ms)}};
  o["expires_at"] =
      t.expires_at_ms == 0 ? json::value(nullptr) : json::value(FormatRfc3339(t.expires_at_ms));
  o["last_used_at"] =
      t.last_used_at_ms == 0 ? json::value(nullptr) : json::value(FormatRfc3339(t.last_used_at_ms));
  return o;
}

Error BadToken(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

// The body of POST /v1/tokens as a NewApiToken; what the book checks (names, projects that
// exist, limits) it checks.
Result<NewApiToken> TokenRequestFromJson(const json::object& body) {
  for (const auto& [key, v] : body) {
    if (key != "name" && key != "role" && key != "projects" && key != "expires") {
      return BadToken("unknown field \"" + Clipped(key) +
                      "\": a token has name, role, projects, expires");
    }
  }
  NewApiToken req;
  const json::value* name = body.if_contains("name");
  if (name == nullptr || !name->is_string()) return BadToken("\"name\" (a string) is required");
  req.name = std::string(name->as_string());
  const json::value* role = body.if_contains("role");
  if (role == nullptr || !role->is_string()) {
    return BadToken("\"role\" is required: admin, operator or viewer");
  }
  auto parsed = ParseRole(role->as_string());
  if (!parsed) {
    return BadToken("\"role\" must be admin, operator or viewer, not \"" +
                    Clipped(std::string_view(role->as_string())) + "\"");
  }
  req.role = *parsed;
  if (const json::value* p = body.if_contains("projects"); p != nullptr && !p->is_null()) {
    if (!p->is_array() || p->as_array().empty()) {
      return BadToken(
          "\"projects\" must be a non-empty list of project names (leave it out for all)");
    }
    for (const json::value& item : p->as_array()) {
      if (!item.is_string()) return BadToken("\"projects\" must hold project names (strings)");
      req.projects.emplace_back(item.as_string());
    }
  }
  if (const json::value* e = body.if_contains("expires"); e != nullptr && !e->is_null()) {
    if (!e->is_string()) return BadToken("\"expires\" must be a duration such as 30d or 12h");
    auto d = ParseDuration(e->as_string());
    if (!d || d->count() <= 0) {
      return BadToken("\"expires\" must be a duration above 0 such as 30d or 12h, not \"" +
                      Clipped(std::string_view(e->as_string())) + "\"");
    }
    req.ttl = *d;
  }
  return req;
}

}  // namespace

bool TokensApi::Handles(const std::vector<std::string_view>& seg) {
  return seg.size() >= 2 && seg[1] == "tokens";
}

HttpResponse TokensApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                              std::string& route) {
  if (seg.size() == 2) {
    route = "/v1/tokens";
    if (req.method == "GET") return List();
    if (req.method == "POST") return Create(req);
    return MethodNotAllowed("GET, POST");
  }
  if (seg.size() == 3) {
    route = "/v1/tokens/{name}";
    if (req.method != "DELETE") return MethodNotAllowed("DELETE");
    return Revoke(seg[2]);
  }
  return JsonError(404, "not_found", "no such endpoint");
}

HttpResponse TokensApi::Create(const HttpRequest& req) {
  if (req.body.size() > kMaxTokenBodyBytes) {
    return JsonError(413, "too_large", "a token's request is at most 16 KiB");
  }
  auto body = ParseJsonObject(req);
  if (!body) return ErrorResponse(body.error());
  auto request = TokenRequestFromJson(*body);
  if (!request) return ErrorResponse(request.error());
  auto made = d_.tokens->Create(std::move(*request));
  if (!made) return ErrorResponse(made.error());
  if (auto c = d_.commit(); !c) return ErrorResponse(c.error());
  json::object o = TokenJson(made->token, made->token.created_at_ms);
  o["token"] = made->secret;
  return JsonResponse(201, o);
}

HttpResponse TokensApi::List() {
  const int64_t now = d_.clock->NowMs();
  json::array out;
  for (const ApiToken* t : d_.tokens->List()) out.push_back(TokenJson(*t, now));
  return JsonResponse(200, json::object{{"tokens", std::move(out)}});
}

HttpResponse TokensApi::Revoke(std::string_view name) {
  if (auto r = d_.tokens->Revoke(name); !r) return ErrorResponse(r.error());
  if (auto c = d_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(200, json::object{{"revoked", name}});
}

}  // namespace autovibe
