// Every route the API serves (the permission table, controller/api/permissions.cc) against
// every role, for every project and for one project, on a real controller: what a role lacks
// answers 403, what lies outside a token's projects answers 404 as if it did not exist, and
// the rest answers as it does the bootstrap admin.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "controller/api/permissions.h"
#include "tests/integration/token_roles_fleet.h"

using namespace autovibe;
using namespace autovibe::testing;
namespace json = boost::json;

namespace {

struct Probe {
  std::string method, path, body;
};

// Whether the rule's request names an object of a project.
bool HasProject(const RouteRule& r) {
  return r.project != ProjectFrom::kFleet && r.project != ProjectFrom::kList;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// A request for the rule that changes nothing whoever makes it (an invalid body, a finished
// task, a held checkpoint, an unknown name), or undoes itself (stop, then resume).
Probe ProbeFor(const RouteRule& r, const Objects& o, const std::string& machine) {
  const std::string key = std::string(r.method) + " " + std::string(r.pattern);
  std::string object;
  switch (r.project) {
    case ProjectFrom::kPath:
      object = o.project;
      break;
    case ProjectFrom::kTask:
      object = o.task;
      break;
    case ProjectFrom::kCheckpoint:
      object = o.checkpoint;
      break;
    default:
      object = r.pattern.starts_with("/v1/machines/{id}") && r.method != "GET" &&
                       !r.pattern.ends_with("/checkpoints")
                   ? "m-000000000000"
               : r.pattern.starts_with("/v1/machines/") ? machine
                                                        : "nope";
  }
  std::string path = std::regex_replace(std::string(r.pattern), std::regex("\\{[a-z]+\\}"), object);
  if (r.pattern == "/v1/checkpoints/{id}/diff") path += "?to=" + o.checkpoint;
  if (r.pattern == "/v1/events") path += "?follow=false";  // the last events, not a follow
  static const std::map<std::string, std::string> kBodies = {
      {"POST /v1/machines", R"({"pool":"no-such-pool"})"},
      {"POST /v1/machines/join-tokens", R"({"ttl":"never"})"},
      {"POST /v1/projects", R"({"name":"Not A Name"})"},
      {"PATCH /v1/projects/{name}", R"({"bogus":1})"},
      {"PUT /v1/projects/{name}/budgets", R"({"budgets":"none"})"},
      {"POST /v1/checkpoints/{id}/restore", R"({"bogus":1})"},
      {"POST /v1/checkpoints/{id}/branch", R"({"bogus":1})"},
      {"PUT /v1/secrets/{name}", R"({"bogus":1})"},
      {"POST /v1/tokens", R"({"name":"not a name","role":"viewer"})"},
  };
  std::string body;
  if (auto it = kBodies.find(key); it != kBodies.end()) body = it->second;
  if (r.project == ProjectFrom::kBodyProject) body = R"({"project":")" + o.project + R"("})";
  if (r.project == ProjectFrom::kBodyTask) {
    body = R"({"task":")" + o.task + R"(","kind":"bogus"})";
  }
  return {std::string(r.method), path, body};
}

struct Who {
  std::string token;  // its name in the fleet
  Role role;
  bool scoped;  // to alpha alone
};

const std::vector<Who> kCallers = {
    {"admin-all", Role::kAdmin, false},        {"operator-all", Role::kOperator, false},
    {"viewer-all", Role::kViewer, false},      {"admin-alpha", Role::kAdmin, true},
    {"operator-alpha", Role::kOperator, true}, {"viewer-alpha", Role::kViewer, true},
};

// The API's request counters by route label.
std::set<std::string> RouteLabels(ControllerProcess& c) {
  auto r = c.Call("GET", "/metrics");
  REQUIRE(r);
  std::set<std::string> out;
  std::regex line(R"re(autovibe_api_requests_total\{route="([^"]*)")re");
  for (std::sregex_iterator it(r->body.begin(), r->body.end(), line), end; it != end; ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

}  // namespace

TEST_CASE("every route against every role, for every project and for one", "[tokens][roles]") {
  TokenRolesFleet f;
  const Objects ghost{"ghost", "t-000000000000", "cp-000000000000"};
  int checked = 0;
  for (const RouteRule& rule : RouteRules()) {
    std::vector<std::pair<std::string, Objects>> targets{{"alpha", f.alpha}};
    if (HasProject(rule)) targets.emplace_back("beta", f.beta);
    for (const auto& [target, objects] : targets) {
      const Probe p = ProbeFor(rule, objects, f.machine);
      const Answer base = f.Call("", p.method, p.path, p.body);
      INFO(p.method << " " << p.path << " " << p.body);
      INFO("bootstrap admin: " << base.status << " " << base.body.substr(0, 300));
      // The probe reaches its route and changes nothing that matters to the next.
      CHECK(base.status != 401);
      CHECK(base.status != 403);
      CHECK(base.status < 500);
      for (const Who& who : kCallers) {
        INFO("token " << who.token);
        const Answer a = f.Call(who.token, p.method, p.path, p.body);
        INFO(a.status << " " << a.body.substr(0, 300));
        ++checked;
        if (!Holds(who.role, rule.need)) {
          CHECK(a.status == 403);
          CHECK(a.code == "forbidden");
          CHECK_THAT(a.message, Catch::Contains(std::string(ToString(rule.need)) + " permission"));
        } else if (who.scoped && rule.project == ProjectFrom::kFleet) {
          CHECK(a.status == 403);
          CHECK_THAT(a.message, Catch::Contains("fleet-level"));
        } else if (who.scoped && target == "beta") {
          // As for what does not exist: the same answer, but for the name.
          const Probe g = ProbeFor(rule, ghost, f.machine);
          const Answer none = f.Call(who.token, g.method, g.path, g.body);
          CHECK(a.status == 404);
          CHECK(none.status == 404);
          CHECK(a.message == Replace(Replace(Replace(none.message, ghost.task, objects.task),
                                             ghost.checkpoint, objects.checkpoint),
                                     "ghost", objects.project));
        } else {
          CHECK(a.status == base.status);
          CHECK(a.code == base.code);
        }
      }
    }
  }
  CHECK(checked > 400);
  // The table's patterns are the labels the routes set for themselves: each was served under
  // its own, and no request fell outside them.
  std::set<std::string> labels = RouteLabels(*f.controller);
  for (const RouteRule& rule : RouteRules()) {
    CHECK(labels.contains(std::string(rule.pattern)));
  }
  for (const std::string& l : labels) {
    INFO(l);
    const bool known = std::any_of(RouteRules().begin(), RouteRules().end(),
                                   [&](const RouteRule& r) { return r.pattern == l; });
    CHECK((known || l == "/healthz" || l == "/metrics"));
  }
}

TEST_CASE("a path the permission table does not hold is served to no one", "[tokens][roles]") {
  TokenRolesFleet f;
  for (const std::string who : {"", "admin-all", "viewer-alpha"}) {
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/nothing"},
                                                          {"GET", "/v1/audit/x"},
                                                          {"POST", "/v1/tasks/x/y/z"},
                                                          {"DELETE", "/v1/projects/alpha/x"},
                                                          {"GET", "/v1"}}) {
      INFO(who << " " << method << " " << path);
      Answer a = f.Call(who, method, path);
      CHECK(a.status == 404);
      CHECK(a.code == "not_found");
    }
  }
  // A method a route does not serve: 405 within the caller's projects, 404 outside them.
  CHECK(f.Call("viewer-all", "PATCH", "/v1/tasks/" + f.beta.task).status == 405);
  CHECK(f.Call("viewer-alpha", "PATCH", "/v1/tasks/" + f.alpha.task).status == 405);
  CHECK(f.Call("viewer-alpha", "PATCH", "/v1/tasks/" + f.beta.task).status == 404);
  CHECK(f.Call("viewer-alpha", "PATCH", "/v1/machines").status == 403);
}
