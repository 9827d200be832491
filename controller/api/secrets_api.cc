#include "controller/api/secrets_api.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/core/time.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

json::object InfoJson(const SecretInfo& s) {
  return {{"name", s.name},
          {"size", s.size},
          {"created_at", FormatRfc3339(s.created_at_ms)},
          {"updated_at", FormatRfc3339(s.updated_at_ms)}};
}

// The store's errors as answers; a value over the limit is 413, as the server says of a body.
HttpResponse SecretError(const Error& e) {
  if (e.code == ErrorCode::kTooLarge) return JsonError(413, "too_large", e.message);
  return ErrorResponse(e);
}

}  // namespace

bool SecretsApi::Handles(const std::vector<std::string_view>& seg) {
  return seg.size() >= 2 && seg[1] == "secrets";
}

HttpResponse SecretsApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                               std::string& route) {
  if (seg.size() == 2) {
    route = "/v1/secrets";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return List();
  }
  if (seg.size() == 3) {
    route = "/v1/secrets/{name}";
    // No GET: a secret's value is never answered.
    if (req.method == "PUT") return Put(req, seg[2]);
    if (req.method == "DELETE") return Delete(seg[2]);
    return MethodNotAllowed("PUT, DELETE");
  }
  return JsonError(404, "not_found", "no such endpoint");
}

HttpResponse SecretsApi::List() {
  auto list = d_.store->List();
  if (!list) return SecretError(list.error());
  json::array out;
  for (const SecretInfo& s : *list) out.push_back(InfoJson(s));
  return JsonResponse(200, json::object{{"secrets", std::move(out)}});
}

HttpResponse SecretsApi::Put(const HttpRequest& req, std::string_view name) {
  if (auto r = ValidateSecretName(name); !r) return SecretError(r.error());
  auto body = ParseJsonObject(req);
  if (!body) return SecretError(body.error());
  const json::value* value = body->if_contains("value");
  if (body->size() != 1 || value == nullptr || !value->is_string()) {
    return JsonError(400, "bad_request", "the body must be {\"value\": \"...\"} and nothing else");
  }
  auto put = d_.store->Put(name, value->as_string());
  if (!put) return SecretError(put.error());
  spdlog::info("secret {} name={} size={}", put->created ? "created" : "replaced", name,
               put->info.size);
  return JsonResponse(put->created ? 201 : 200, InfoJson(put->info));
}

HttpResponse SecretsApi::Delete(std::string_view name) {
  auto r = d_.store->Delete(name);
  if (!r) return SecretError(r.error());
  spdlog::info("secret deleted name={}", name);
  return JsonResponse(200, json::object{{"deleted", name}});
}

}  // namespace autovibe
