#include "controller/api/join_tokens_api.h"

#include <boost/json.hpp>

#include "common/core/duration.h"
#include "common/core/time.h"
#include "controller/api/responses.h"

namespace autovibe {

bool JoinTokensApi::Handles(const std::vector<std::string_view>& seg) {
  return seg.size() == 3 && seg[1] == "machines" && seg[2] == "join-tokens";
}

HttpResponse JoinTokensApi::Route(const HttpRequest& req, std::string& route) {
  route = "/v1/machines/join-tokens";
  if (req.method != "POST") return MethodNotAllowed("POST");
  if (d_.tokens == nullptr) {
    return JsonError(409, "conflict",
                     "this controller runs an insecure bus (--insecure-bus): join tokens need "
                     "bus users; give it nats_auth_file and nats_pid_file");
  }
  auto body = OptionalBody(req, {"pool", "ttl"});
  if (!body) return ErrorResponse(body.error());
  auto pool = OptionalText(*body, "pool");
  if (!pool) return ErrorResponse(pool.error());
  auto ttl_text = OptionalText(*body, "ttl");
  if (!ttl_text) return ErrorResponse(ttl_text.error());
  Duration ttl(0);
  if (!ttl_text->empty()) {
    auto d = ParseDuration(*ttl_text);
    if (!d || d->count() <= 0) {
      return JsonError(400, "bad_request",
                       "ttl must be a duration like 30m or 1h, got \"" + Clipped(*ttl_text) + "\"");
    }
    ttl = *d;
  }
  auto made = d_.tokens->Create(*pool, ttl);
  if (!made) return ErrorResponse(made.error());
  if (auto c = d_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(201, boost::json::object{{"id", made->id},
                                               {"token", made->token},
                                               {"pool", made->pool},
                                               {"expires_at", FormatRfc3339(made->expires_at_ms)}});
}

}  // namespace autovibe
