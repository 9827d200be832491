// A token limited to one project, used against another on a real controller: it reads and
// acts on nothing there and learns nothing of it; revoked and expired tokens are refused; no
// secret shows in an answer, the controller's log or its database.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <tuple>

#include "common/core/files.h"
#include "tests/integration/token_roles_fleet.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

json::array ListOf(const Answer& a, const std::string& key) {
  REQUIRE(a.status == 200);
  return json::parse(a.body).at(key).as_array();
}

std::set<std::string> Field(const json::array& list, const std::string& key) {
  std::set<std::string> out;
  for (const auto& item : list) out.insert(std::string(item.at(key).as_string()));
  return out;
}

}  // namespace

TEST_CASE("a token of one project reads, lists and acts on nothing of another", "[tokens][scope]") {
  TokenRolesFleet f;
  const std::string op = "operator-alpha";
  const std::string tb = f.beta.task, cpb = f.beta.checkpoint;
  const size_t beta_tasks =
      f.controller->GetJson("/v1/tasks?project=beta").at("tasks").as_array().size();

  // Its own project: read and act.
  CHECK(f.Call(op, "GET", "/v1/tasks/" + f.alpha.task).status == 200);
  CHECK(f.Call(op, "GET", "/v1/tasks/" + f.alpha.task + "/logs").status == 200);
  CHECK(f.Call(op, "GET", "/v1/checkpoints/" + f.alpha.checkpoint).status == 200);
  const json::object submit{{"project", "alpha"}, {"tool", "shell"}, {"command", {"true"}}};
  CHECK(f.Call(op, "POST", "/v1/tasks", json::serialize(submit)).status == 201);

  // The other project's task, its logs, diff, bundle, checkpoints and usage: as if none.
  for (const std::string& path : std::vector<std::string>{
           "/v1/tasks/" + tb, "/v1/tasks/" + tb + "/logs", "/v1/tasks/" + tb + "/logs?follow=1",
           "/v1/tasks/" + tb + "/diff", "/v1/tasks/" + tb + "/bundle", "/v1/checkpoints/" + cpb,
           "/v1/checkpoints/" + cpb + "/archive", "/v1/checkpoints/" + cpb + "/diff?to=" + cpb,
           "/v1/checkpoints/" + f.alpha.checkpoint + "/diff?to=" + cpb, "/v1/projects/beta",
           "/v1/projects/beta/usage", "/v1/projects/beta/budgets", "/v1/usage?project=beta",
           "/v1/alerts?project=beta"}) {
    INFO(path);
    Answer a = f.Call(op, "GET", path);
    CHECK(a.status == 404);
    CHECK(a.body.find("beta-words") == std::string::npos);
  }
  // Nor act on it: cancel, stop, budgets, restore into its task, branch, delete.
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/tasks/" + tb + "/cancel", ""},
           {"POST", "/v1/projects/beta/stop", ""},
           {"PUT", "/v1/projects/beta/budgets", R"({"budgets":[]})"},
           {"POST", "/v1/checkpoints/" + cpb + "/restore", ""},
           {"POST", "/v1/checkpoints/" + f.alpha.checkpoint + "/restore",
            R"({"task":")" + tb + R"("})"},
           {"POST", "/v1/checkpoints/" + cpb + "/branch", ""},
           {"DELETE", "/v1/checkpoints/" + cpb, ""},
           {"POST", "/v1/machines/" + f.machine + "/checkpoints", R"({"task":")" + tb + R"("})"}}) {
    INFO(method << " " << path);
    CHECK(f.Call(op, method, path, body).status == 404);
  }
  CHECK(f.controller->GetJson("/v1/projects/beta").at("held") == false);
  // Nor submit into it, nor start from its checkpoint, nor wait on its task.
  json::object into_beta = submit;
  into_beta["project"] = "beta";
  CHECK(f.Call(op, "POST", "/v1/tasks", json::serialize(into_beta)).status == 404);
  json::object from_beta = submit;
  from_beta["from_checkpoint"] = cpb;
  CHECK(f.Call(op, "POST", "/v1/tasks", json::serialize(from_beta)).status == 404);
  json::object after_beta = submit;
  after_beta["depends_on"] = json::array{tb};
  Answer dep = f.Call(op, "POST", "/v1/tasks", json::serialize(after_beta));
  CHECK(dep.status == 400);
  CHECK_THAT(dep.message, Catch::Contains("unknown task"));
  CHECK(f.controller->GetJson("/v1/tasks?project=beta").at("tasks").as_array().size() ==
        beta_tasks);

  // Lists hold its project alone.
  CHECK(Field(ListOf(f.Call(op, "GET", "/v1/projects"), "projects"), "name") ==
        std::set<std::string>{"alpha"});
  for (const std::string path : {"/v1/tasks", "/v1/tasks?project=beta", "/v1/tasks?state=queued"}) {
    for (const auto& t : ListOf(f.Call(op, "GET", path), "tasks")) {
      CHECK(t.at("project") == "alpha");
    }
  }
  CHECK(ListOf(f.Call(op, "GET", "/v1/tasks?project=beta"), "tasks").empty());
  std::set<std::string> cps =
      Field(ListOf(f.Call(op, "GET", "/v1/checkpoints"), "checkpoints"), "id");
  CHECK(cps.contains(f.alpha.checkpoint));
  CHECK(!cps.contains(cpb));
  CHECK(ListOf(f.Call(op, "GET", "/v1/checkpoints?task=" + tb), "checkpoints").empty());
  for (const auto& row : ListOf(f.Call(op, "GET", "/v1/usage?group_by=task"), "rows")) {
    CHECK(row.at("key") != json::value(tb));
  }
  // Fleet-level and admin routes are refused outright.
  CHECK(f.Call(op, "GET", "/v1/machines").status == 403);
  CHECK(f.Call(op, "GET", "/v1/secrets").status == 403);
  CHECK(f.Call("admin-alpha", "GET", "/v1/tokens").status == 403);
  CHECK(f.Call("admin-alpha", "POST", "/v1/machines", "{}").status == 403);
  Answer viewer = f.Call("viewer-alpha", "POST", "/v1/tasks", json::serialize(submit));
  CHECK(viewer.status == 403);
  CHECK_THAT(viewer.message, Catch::Contains("operate permission"));
}

TEST_CASE("revoked and expired tokens get 401, and no secret is kept or said anywhere",
          "[tokens][scope]") {
  TokenRolesFleet f;
  f.MakeToken("brief", "viewer", {}, "1s");
  const std::string brief = f.secrets.at("brief");
  CHECK(f.Call("brief", "GET", "/v1/tasks").status == 200);
  // Expiry is the controller's clock passing 1 s; poll for it.
  Answer expired;
  REQUIRE(
      WaitUntil([&] { return (expired = f.Call("brief", "GET", "/v1/tasks")).status == 401; }, 5s));
  CHECK_THAT(expired.message, Catch::Contains("expired"));

  CHECK(f.Call("operator-all", "GET", "/v1/tasks").status == 200);
  CHECK(f.Call("", "DELETE", "/v1/tokens/operator-all").status == 200);
  Answer revoked = f.Call("operator-all", "GET", "/v1/tasks");
  CHECK(revoked.status == 401);
  CHECK(revoked.code == "unauthorized");

  // Every answer a token manager sees, the log and the database: no secret in any of them.
  std::string answers;
  for (const std::string who : {"", "admin-all"}) {
    answers += f.Call(who, "GET", "/v1/tokens").body;
    answers += f.Call(who, "DELETE", "/v1/tokens/nope").body;
    answers += f.Call(who, "POST", "/v1/tokens", R"({"name":"viewer-all","role":"viewer"})").body;
  }
  const std::filesystem::path data = f.dir / "controller";
  const std::string log = f.ControllerLog();
  REQUIRE(log.find("api token created") != std::string::npos);
  std::string db;
  for (const auto& e : std::filesystem::directory_iterator(data)) {
    if (e.path().filename().string().starts_with("controller.db")) {
      auto bytes = ReadFile(e.path());
      REQUIRE(bytes);
      db += *bytes;
    }
  }
  REQUIRE(!db.empty());
  for (const auto& [name, secret] : f.secrets) {
    INFO(name);
    const std::string random = secret.substr(4);  // the "avt_" prefix is in every one
    CHECK(answers.find(random) == std::string::npos);
    CHECK(log.find(random) == std::string::npos);
    CHECK(db.find(random) == std::string::npos);
  }
}
