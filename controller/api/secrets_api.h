// PUT /v1/secrets/{name}, GET /v1/secrets, DELETE /v1/secrets/{name}: secrets users hand over
// (repository credentials, forge tokens). No route answers a value, and no log line holds one.
// Owner-thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/secrets/secret_store.h"

namespace autovibe {

struct SecretsApiDeps {
  SecretStore* store = nullptr;
};

class SecretsApi {
 public:
  explicit SecretsApi(SecretsApiDeps deps) : d_(deps) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  // PUT {"value":"..."}: 201 when created, 200 when replaced, with {"name","size","created_at",
  // "updated_at"}; 400 for a bad name or body, 413 for a value over 64 KiB.
  // GET /v1/secrets: {"secrets":[{"name","size","created_at","updated_at"}]}.
  // DELETE: 200 {"deleted":name}; 404 for an unknown name.
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route);

 private:
  HttpResponse List();
  HttpResponse Put(const HttpRequest& req, std::string_view name);
  HttpResponse Delete(std::string_view name);

  SecretsApiDeps d_;
};

}  // namespace autovibe
