// `autovibe checkpoint ...` from the command line to the printed output, against a fake
// controller.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cli/checkpoint_cmd.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;
namespace json = boost::json;

// A manual checkpoint taken 5 minutes before kNowMs, of 12.3 MiB.
json::object Manual() {
  return json::parse(R"({
    "id": "cp-1", "machine_id": "m-1a2b", "machine": "worker-1", "task_id": "t-1",
    "attempt": 1, "parent": "", "trigger": "manual", "label": "before refactor",
    "files": 120, "bytes": 12939428, "stored_bytes": 4194304,
    "created_at": "2026-11-22T01:34:42.123Z", "verified_at": null,
    "workspace": "/var/lib/autovibe/agent/work/t-1", "copies": ["m-1a2b", "m-2"]})")
      .as_object();
}

// Its automatic child, on a machine the controller knows no name of.
json::object Automatic() {
  return json::parse(R"({
    "id": "cp-2", "machine_id": "m-2", "machine": "", "task_id": "t-1", "attempt": 1,
    "parent": "cp-1", "trigger": "auto", "label": "", "files": 121, "bytes": 1536,
    "stored_bytes": 512, "created_at": "2026-11-22T01:39:40.000Z",
    "verified_at": "2026-11-22T01:39:41.000Z", "workspace": "/w/t-1", "copies": ["m-2"]})")
      .as_object();
}

std::string Checkpoints(json::array list) {
  return json::serialize(json::object{{"checkpoints", std::move(list)}});
}

// A branch's answer: Manual() is on `machine`, `sent` of its 10 objects travelled.
std::string BranchAnswer(const std::string& machine, int sent, int sent_bytes) {
  return json::serialize(json::object{{"checkpoint", Manual()},
                                      {"machine_id", machine},
                                      {"objects", 10},
                                      {"sent_objects", sent},
                                      {"sent_bytes", sent_bytes}});
}

}  // namespace

// --- list ---

TEST_CASE("cli checkpoint list: an aligned table, filters are sent encoded", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/checkpoints?machine=worker%201&task=t-1",
         JsonReply(200, Checkpoints({Manual(), Automatic()})));
  Outcome o = RunCli(ctl, {"checkpoint", "list", "--machine", "worker 1", "--task", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.err.empty());
  CHECK(o.out ==
        "ID    TASK  MACHINE   TRIGGER  FILES  SIZE   CREATED                   PARENT\n"
        "cp-1  t-1   worker-1  manual   120    12.3M  2026-11-22T01:34:42.123Z  -\n"
        "cp-2  t-1   m-2       auto     121    1.5K   2026-11-22T01:39:40.000Z  cp-1\n");
}

TEST_CASE("cli checkpoint list: none, and --json is the API's wherever it stands", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/checkpoints", JsonReply(200, R"({"checkpoints":[]})"));
  CHECK(RunCli(ctl, {"checkpoint", "list"}).out == "no checkpoints\n");
  Outcome o = RunCli(ctl, {"checkpoint", "list", "--json"});
  CHECK(json::parse(o.out) == json::parse(R"({"checkpoints":[]})"));
  CHECK(ctl.requests() == std::vector<std::string>{"GET /v1/checkpoints", "GET /v1/checkpoints"});
  CHECK(ctl.timeouts()[0] == HttpCall{}.timeout);  // a listing waits on no agent
}

TEST_CASE("cli checkpoint list: an answer without the list is an error", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/checkpoints", JsonReply(200, R"({"items":[]})"));
  Outcome o = RunCli(ctl, {"checkpoint", "list"});
  CHECK(o.exit_code == 1);
  CHECK(o.err ==
        "autovibe: unexpected answer from the controller to GET /v1/checkpoints: no "
        "\"checkpoints\" list\n");
}

// --- create ---

TEST_CASE("cli checkpoint create: posts what is given and prints each new id", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/machines/worker-1/checkpoints",
         JsonReply(201, Checkpoints({Manual(), Automatic()})));
  Outcome o = RunCli(ctl, {"checkpoint", "create", "worker-1", "--label", "before refactor"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "cp-1\ncp-2\n");
  o = RunCli(ctl, {"checkpoint", "create", "--task", "t-1", "worker-1"});
  CHECK(o.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 2);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({"label":"before refactor"})"));
  CHECK(json::parse(ctl.bodies()[1]) == json::parse(R"({"task":"t-1"})"));
}

TEST_CASE("cli checkpoint create --kind machine: a whole-machine checkpoint", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/machines/worker-1/checkpoints", JsonReply(201, Checkpoints({Manual()})));
  Outcome o = RunCli(ctl, {"checkpoint", "create", "worker-1", "--kind", "machine"});
  CHECK(o.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({"kind":"machine"})"));
  // Its old spelling still works.
  o = RunCli(ctl, {"checkpoint", "create", "worker-1", "--machine"});
  CHECK(o.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 2);
  CHECK(json::parse(ctl.bodies()[1]) == json::parse(R"({"kind":"machine"})"));
  // Anything else is refused before a request goes out.
  o = RunCli(ctl, {"checkpoint", "create", "worker-1", "--kind", "vm"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("--kind"));
  CHECK(ctl.bodies().size() == 2);
}

TEST_CASE("cli checkpoint create --json: the API's answer, the machine one path segment", "[cli]") {
  FakeController ctl;
  const std::string answer = Checkpoints({Manual()});
  ctl.On("POST /v1/machines/a%2Fb/checkpoints", JsonReply(201, answer));
  Outcome o = RunCli(ctl, {"--json", "checkpoint", "create", "a/b"});
  CHECK(o.exit_code == 0);
  CHECK(json::parse(o.out) == json::parse(answer));
  CHECK(json::parse(ctl.bodies()[0]) == json::parse("{}"));
}

TEST_CASE("cli checkpoint create: an unknown machine exits 4 with the controller's word", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/machines/w9/checkpoints", ApiError(404, "not_found", "no machine w9"));
  Outcome o = RunCli(ctl, {"checkpoint", "create", "w9"});
  CHECK(o.exit_code == 4);
  CHECK(o.out.empty());
  CHECK(o.err == "autovibe: no machine w9\n");
}

// --- show ---

TEST_CASE("cli checkpoint show: every field as key: value lines", "[cli]") {
  json::object cp = Manual();
  cp["children"] = json::array{"cp-2", "cp-3"};
  FakeController ctl;
  ctl.On("GET /v1/checkpoints/cp-1", JsonReply(200, json::serialize(cp)));
  Outcome o = RunCli(ctl, {"checkpoint", "show", "cp-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "id:           cp-1\n"
        "task_id:      t-1\n"
        "machine:      worker-1 (m-1a2b)\n"
        "trigger:      manual\n"
        "label:        before refactor\n"
        "parent:       -\n"
        "children:     cp-2,cp-3\n"
        "files:        120\n"
        "bytes:        12.3M\n"
        "stored_bytes: 4.0M\n"
        "created_at:   2026-11-22T01:34:42.123Z (5m ago)\n"
        "verified_at:  -\n"
        "workspace:    /var/lib/autovibe/agent/work/t-1\n"
        "copies:       m-1a2b,m-2\n"
        "attempt:      1\n");
}

TEST_CASE("cli checkpoint show: a machine without a name, a verified time, no children", "[cli]") {
  const KeyValues lines = CheckpointDetails(Automatic(), kNowMs);
  CHECK(lines[2] == KeyValues::value_type{"machine", "m-2"});
  CHECK(lines[6] == KeyValues::value_type{"children", "-"});
  CHECK(lines[11] == KeyValues::value_type{"verified_at", "2026-11-22T01:39:41.000Z (1s ago)"});
}

TEST_CASE("cli checkpoint show: an unknown checkpoint exits 4, the id is one path segment",
          "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, {"checkpoint", "show", "cp/../x"});
  CHECK(o.exit_code == 4);
  CHECK(ctl.requests() == std::vector<std::string>{"GET /v1/checkpoints/cp%2F..%2Fx"});
}

// --- restore ---

TEST_CASE("cli checkpoint restore: where it went and what the workspace was", "[cli]") {
  json::object before = Automatic();
  before["id"] = "cp-3";
  before["trigger"] = "before_restore";
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/restore",
         JsonReply(200, json::serialize(json::object{{"restored", "cp-1"},
                                                     {"task_id", "t-9"},
                                                     {"machine_id", "m-2"},
                                                     {"before", before}})));
  Outcome o = RunCli(ctl, {"checkpoint", "restore", "cp-1", "--task", "t-9"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "restored cp-1 into the workspace of task t-9 on machine m-2\n"
        "the workspace as it was is checkpoint cp-3\n");
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({"task":"t-9"})"));
  // A restore writes a whole workspace: the CLI waits as long as the controller does.
  CHECK(ctl.timeouts()[0] == std::chrono::minutes(11));
}

TEST_CASE("cli checkpoint verify: says it passed, or shows the machine's finding", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/verify", JsonReply(200, json::serialize(Manual())));
  Outcome o = RunCli(ctl, {"checkpoint", "verify", "cp-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "checkpoint cp-1 verified: every chunk re-read and its hash checked\n");
  CHECK(ctl.timeouts()[0] == std::chrono::minutes(11));
  ctl.On("POST /v1/checkpoints/cp-1/verify",
         ApiError(500, "corrupt", "machine m-1: 1 problems: a.txt: chunk 12ab is corrupt"));
  o = RunCli(ctl, {"checkpoint", "verify", "cp-1"});
  CHECK(o.exit_code == 1);
  CHECK(o.err.find("a.txt: chunk 12ab is corrupt") != std::string::npos);
}

TEST_CASE("cli checkpoint restore: without --task and with nothing kept, one line", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/restore",
         JsonReply(200, R"({"restored":"cp-1","task_id":"t-1","machine_id":"m-1a2b",
                            "before":null})"));
  Outcome o = RunCli(ctl, {"checkpoint", "restore", "cp-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "restored cp-1 into the workspace of task t-1 on machine m-1a2b\n");
  CHECK(json::parse(ctl.bodies()[0]) == json::parse("{}"));
}

TEST_CASE("cli checkpoint restore: a machine checkpoint reverts its machine", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-9/restore",
         JsonReply(200, R"({"restored":"cp-9","kind":"machine","machine_id":"m-7"})"));
  Outcome o = RunCli(ctl, {"checkpoint", "restore", "cp-9"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "reverted machine m-7 to checkpoint cp-9: it boots again from that disk\n");
}

TEST_CASE("cli checkpoint restore: a refusal is shown as the controller gives it", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/restore",
         ApiError(409, "conflict", "checkpoint cp-1 is not on machine m-2"));
  Outcome o = RunCli(ctl, {"checkpoint", "restore", "cp-1"});
  CHECK(o.exit_code == 1);
  CHECK(o.out.empty());
  CHECK(o.err == "autovibe: 409 conflict: checkpoint cp-1 is not on machine m-2\n");
}

// --- branch ---

TEST_CASE("cli checkpoint branch: where it is now and what travelled", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/branch", JsonReply(200, BranchAnswer("m-2", 3, 1536)));
  Outcome o = RunCli(ctl, {"checkpoint", "branch", "cp-1", "--to", "w2"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "checkpoint cp-1 is on machine m-2 (sent 3 of 10 objects, 1.5K)\n");
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({"to":"w2"})"));
}

TEST_CASE("cli checkpoint branch: without --to the controller picks the machine", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/checkpoints/cp-1/branch", JsonReply(200, BranchAnswer("m-3", 10, 2048)));
  Outcome o = RunCli(ctl, {"checkpoint", "branch", "cp-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "checkpoint cp-1 is on machine m-3 (sent 10 of 10 objects, 2.0K)\n");
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse("{}"));
}

TEST_CASE("cli checkpoint branch: fields the answer lacks are what was asked", "[cli]") {
  CHECK(BranchSummary(json::object{}, "cp-7", "w2") ==
        "checkpoint cp-7 is on machine w2 (sent - of - objects, -)");
}

// --- diff ---

TEST_CASE("cli checkpoint diff: one line per change like git --name-status", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/checkpoints/cp-1/diff?to=cp-2", JsonReply(200, R"({"from":"cp-1","to":"cp-2",
      "changes":[{"kind":"added","path":"a.txt"},{"kind":"removed","path":"old/b.txt"},
                 {"kind":"changed","path":"src/main.cc"},{"kind":"renamed","path":"c"}]})"));
  Outcome o = RunCli(ctl, {"checkpoint", "diff", "cp-1", "cp-2"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "A a.txt\nD old/b.txt\nM src/main.cc\n? c\n");
}

TEST_CASE("cli checkpoint diff: no changes print nothing, ids are encoded", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/checkpoints/a%2Fb/diff?to=c%26d",
         JsonReply(200, R"({"from":"a/b","to":"c&d","changes":[]})"));
  Outcome o = RunCli(ctl, {"checkpoint", "diff", "a/b", "c&d"});
  CHECK(o.exit_code == 0);
  CHECK(o.out.empty());
  o = RunCli(ctl, {"checkpoint", "diff", "cp-1"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("CP2 is required"));
}

// --- delete, usage ---

TEST_CASE("cli checkpoint delete: prints what was deleted", "[cli]") {
  FakeController ctl;
  ctl.On("DELETE /v1/checkpoints/cp-1", JsonReply(200, R"({"deleted":"cp-1","removed":["cp-1"]})"));
  Outcome o = RunCli(ctl, {"checkpoint", "delete", "cp-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "deleted cp-1\n");
  o = RunCli(ctl, {"checkpoint", "delete", "cp-1", "--json"});
  CHECK(json::parse(o.out) == json::parse(R"({"deleted":"cp-1","removed":["cp-1"]})"));
}

TEST_CASE("cli checkpoint: usage errors exit 2 and name the choices", "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, {"checkpoint"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err,
             Catch::Contains(
                 "(one of: list, create, show, restore, branch, diff, export, verify, delete)"));
  o = RunCli(ctl, {"checkpoint", "create"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("MACHINE is required"));
  CHECK(ctl.requests().empty());
}

}  // namespace autovibe::cli
