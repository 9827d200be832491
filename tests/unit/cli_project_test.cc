// `autovibe project ...` from the command line to the printed output, against a fake controller.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "cli/project_cmd.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;

const char* kDemo = R"({"name":"demo","created_at":"2026-11-22T01:34:42.123Z",
  "tasks":{"queued":1,"blocked":0,"assigned":0,"running":2,"succeeded":5,"failed":0,
           "cancelled":0,"paused":0}})";
const char* kEmpty = R"({"name":"empty-one","created_at":"2026-11-20T01:39:42.123Z","tasks":{}})";

std::string ProjectList() { return std::string(R"({"projects":[)") + kDemo + "," + kEmpty + "]}"; }

}  // namespace

TEST_CASE("cli project create: posts the name and prints it", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/projects", JsonReply(201, kDemo));
  Outcome o = RunCli(ctl, {"project", "create", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "demo\n");
  CHECK(o.err.empty());
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(boost::json::parse(ctl.bodies()[0]) == boost::json::parse(R"({"name":"demo"})"));
}

TEST_CASE("cli project create --json: the whole project", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/projects", JsonReply(201, kDemo));
  Outcome o = RunCli(ctl, {"project", "create", "--json", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(boost::json::parse(o.out) == boost::json::parse(kDemo));
}

TEST_CASE("cli project create: an existing name is refused with the controller's word", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/projects", ApiError(409, "conflict", "project demo exists"));
  Outcome o = RunCli(ctl, {"project", "create", "demo"});
  CHECK(o.exit_code == 1);
  CHECK(o.out.empty());
  CHECK(o.err == "autovibe: 409 conflict: project demo exists\n");
}

TEST_CASE("cli project list: a table of projects and their tasks by state", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects", JsonReply(200, ProjectList()));
  Outcome o = RunCli(ctl, {"project", "list"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "NAME       QUEUED  BLOCKED  ASSIGNED  RUNNING  PAUSED  SUCCEEDED  FAILED  CANCELLED  "
        "CREATED\n"
        "demo       1       0        0         2        0       5          0       0          5m\n"
        "empty-one  -       -        -         -        -       -          -       -          "
        "2d\n");
}

TEST_CASE("cli project list: says so when there are none, --json is the API's", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects", JsonReply(200, R"({"projects":[]})"));
  CHECK(RunCli(ctl, {"project", "list"}).out == "no projects\n");
  Outcome o = RunCli(ctl, {"--json", "project", "list"});
  CHECK(boost::json::parse(o.out) == boost::json::parse(R"({"projects":[]})"));
}

TEST_CASE("cli project show: key: value lines, task counts that are not zero", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/demo", JsonReply(200, kDemo));
  Outcome o = RunCli(ctl, {"project", "show", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "name:    demo\n"
        "created: 2026-11-22T01:34:42.123Z (5m ago)\n"
        "tasks:   1 queued, 2 running, 5 succeeded\n");
}

TEST_CASE("cli project show: new fields and states still show", "[cli]") {
  auto p = boost::json::parse(kEmpty).as_object();
  p["tasks"].as_object()["archived"] = 3;
  p["budgets"] = boost::json::array{};
  const KeyValues lines = ProjectDetails(p, kNowMs);
  CHECK(lines[2] == KeyValues::value_type{"tasks", "3 archived"});
  CHECK(lines.back() == KeyValues::value_type{"budgets", "[]"});
  CHECK(FormatTaskCounts({}) == "none");
}

TEST_CASE("cli project show: an unknown project exits 4, the name is one path segment", "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, {"project", "show", "a/b"});
  CHECK(o.exit_code == 4);
  CHECK(ctl.requests() == std::vector<std::string>{"GET /v1/projects/a%2Fb"});
}

TEST_CASE("cli project: usage errors exit 2 and name the choices", "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, {"project"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("(one of: create, update, list, show, stop, resume)"));
  o = RunCli(ctl, {"project", "create"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("NAME is required"));
  CHECK(ctl.requests().empty());
}

}  // namespace autovibe::cli

namespace autovibe::cli {

TEST_CASE("cli project create --repo: the project's default repository goes with it", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/projects", JsonReply(201, kDemo));
  Outcome o = RunCli(ctl, {"project", "create", "demo", "--repo", "https://example.org/o/r.git",
                           "--ref", "main", "--publish", "pr", "--review"});
  CHECK(o.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 1);
  const auto sent = boost::json::parse(ctl.bodies()[0]).as_object();
  CHECK(sent.at("repo").at("url").as_string() == "https://example.org/o/r.git");
  CHECK(sent.at("repo").at("ref").as_string() == "main");
  CHECK(sent.at("repo").at("publish").as_string() == "pr");
  CHECK(sent.at("repo").at("review").as_bool());
  // A hostile address never leaves the CLI.
  FakeController quiet;
  Outcome bad = RunCli(quiet, {"project", "create", "demo", "--repo", "ext::sh -c id"});
  CHECK(bad.exit_code == 2);
  CHECK(quiet.bodies().empty());
}

TEST_CASE("cli project update: sets or drops the default repository with PATCH", "[cli]") {
  FakeController ctl;
  ctl.On("PATCH /v1/projects/demo",
         JsonReply(200, R"({"name":"demo","repo":{"url":"/srv/git/r.git"}})"));
  Outcome o = RunCli(ctl, {"project", "update", "demo", "--repo", "/srv/git/r.git"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "project demo: tasks work on /srv/git/r.git unless they name a repository\n");
  Outcome off = RunCli(ctl, {"project", "update", "demo", "--no-repo"});
  CHECK(off.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 2);
  CHECK(boost::json::parse(ctl.bodies()[1]) == boost::json::parse(R"({"repo":null})"));
  FakeController quiet;
  CHECK(RunCli(quiet, {"project", "update", "demo"}).exit_code == 2);
  CHECK(RunCli(quiet, {"project", "update", "demo", "--repo", "/x", "--no-repo"}).exit_code == 2);
  CHECK(quiet.bodies().empty());
}

}  // namespace autovibe::cli
