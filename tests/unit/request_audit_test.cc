// What a request's audit record keeps: who, what, which object, from where, the result, and
// only the named safe fields of its body (never a secret value, token, prompt, command,
// environment or URL).
#include "controller/api/request_audit.h"

#include <catch2/catch.hpp>

using namespace autovibe;

namespace {

HttpRequest Req(std::string method, std::string path, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.remote_address = "10.1.2.3";
  r.body = std::move(body);
  return r;
}

HttpResponse Res(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("a request's audit record names its object from the route and keeps safe fields only",
          "[audit]") {
  const Caller admin{.name = "ops-bot", .role = Role::kOperator};
  const std::string body =
      R"({"project":"demo","tool":"shell","prompt":"use key sk-live-1","command":["curl","-H",)"
      R"("Authorization: Bearer xyz"],"env":{"TOKEN":"abc"},"repo":"https://u:pw@host/r.git",)"
      R"("priority":3,"labels":{"team":"core"}})";
  AuditRecord r = RequestRecord(Req("POST", "/v1/tasks", body), "/v1/tasks", admin);
  CHECK(r.actor == "ops-bot");
  CHECK(r.action == "POST /v1/tasks");
  CHECK(r.object_kind == "task");
  CHECK(r.project == "demo");
  CHECK(r.remote_address == "10.1.2.3");
  CHECK(r.details == R"({"project":"demo","tool":"shell","priority":3,"labels":{"team":"core"}})");
  for (const char* secret : {"sk-live-1", "xyz", "abc", "pw@"}) {
    CHECK(r.details.find(secret) == std::string::npos);
  }
  AnswerRecord(r, Res(201, R"({"id":"t-1","project":"demo","token":"never"})"));
  CHECK(r.object_id == "t-1");
  CHECK(r.status == 201);
  CHECK(r.result == "ok");

  AuditRecord cancel =
      RequestRecord(Req("POST", "/v1/tasks/t-9/cancel"), "/v1/tasks/{id}/cancel", admin);
  CHECK(cancel.object_kind == "task");
  CHECK(cancel.object_id == "t-9");
  AnswerRecord(cancel, Res(409, R"({"error":{"code":"conflict","message":"task t-9 is final"}})"));
  CHECK(cancel.result == "error");
  CHECK(cancel.error == "task t-9 is final");

  AuditRecord secret = RequestRecord(Req("PUT", "/v1/secrets/gh", R"({"value":"hunter2"})"),
                                     "/v1/secrets/{name}", admin);
  CHECK(secret.object_kind == "secret");
  CHECK(secret.object_id == "gh");
  CHECK(secret.details == "{}");

  AuditRecord join = RequestRecord(Req("POST", "/v1/machines/join-tokens", R"({"pool":"p"})"),
                                   "/v1/machines/join-tokens", admin);
  AnswerRecord(join, Res(201, R"({"id":"j-1","token":"j-1.s3cret","pool":"p"})"));
  CHECK(join.object_kind == "join-token");
  CHECK(join.object_id == "j-1");
  CHECK(join.details == R"({"pool":"p"})");

  AuditRecord budget = RequestRecord(
      Req("PUT", "/v1/projects/demo/budgets", R"({"budgets":[{"resource":"usd","limit":"9"}]})"),
      "/v1/projects/{name}/budgets", admin);
  CHECK(budget.object_kind == "project");
  CHECK(budget.project == "demo");
  CHECK(budget.details.find("\"limit\":\"9\"") != std::string::npos);

  // No token: the path stands for the route it never reached.
  AuditRecord refused =
      RequestRecord(Req("DELETE", "/v1/secrets/gh"), "unauthorized", std::nullopt);
  CHECK(refused.actor == "anonymous");
  CHECK(refused.action == "DELETE /v1/secrets/gh");
}

TEST_CASE("only /v1 requests that may change state are audited", "[audit]") {
  CHECK(RequestAudit::Audited(Req("POST", "/v1/tasks")));
  CHECK(RequestAudit::Audited(Req("DELETE", "/v1/checkpoints/c-1")));
  CHECK(!RequestAudit::Audited(Req("GET", "/v1/tasks")));
  CHECK(!RequestAudit::Audited(Req("HEAD", "/v1/tasks")));
  CHECK(!RequestAudit::Audited(Req("POST", "/healthz")));
}
