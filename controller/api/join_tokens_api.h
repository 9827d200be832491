// POST /v1/machines/join-tokens: one-time join tokens for agents started by hand, by Terraform
// or by cloud-init. Owner-thread only.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/machines/join_tokens.h"

namespace autovibe {

struct JoinTokensApiDeps {
  JoinTokens* tokens = nullptr;  // null: the bus has no users (--insecure-bus)
  // Commits the open write batch before answering.
  std::function<Result<void>()> commit;
};

class JoinTokensApi {
 public:
  explicit JoinTokensApi(JoinTokensApiDeps deps) : d_(std::move(deps)) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  // Body {"pool","ttl"} (both optional; ttl a duration like "1h", default 1h). Answers 201
  // with {"id","token","pool","expires_at"}: the token is shown this once.
  HttpResponse Route(const HttpRequest& req, std::string& route);

 private:
  JoinTokensApiDeps d_;
};

}  // namespace autovibe
