// POST /v1/tokens, GET /v1/tokens, DELETE /v1/tokens/{name}: API tokens with a role and an
// optional project scope. The secret is in the 201 answer only; no other answer, log line or
// database row holds it. Admin only (permissions.cc). Owner-thread only.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/auth/token_book.h"

namespace autovibe {

struct TokensApiDeps {
  TokenBook* tokens = nullptr;
  const Clock* clock = nullptr;  // says which tokens have expired
  // Makes the writes so far durable; called before a change is acknowledged to the client.
  std::function<Result<void>()> commit;
};

class TokensApi {
 public:
  explicit TokensApi(TokensApiDeps deps) : d_(std::move(deps)) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  // POST {"name","role","projects"?,"expires"?} (expires a duration such as "30d"): 201 with
  // the token's fields and "token", its secret. GET: {"tokens":[...]}, no secrets or hashes.
  // DELETE: 200 {"revoked":name}. 400 for bad input, 409 for a name taken, 404 for none.
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse List();
  HttpResponse Revoke(std::string_view name);

  TokensApiDeps d_;
};

}  // namespace autovibe
