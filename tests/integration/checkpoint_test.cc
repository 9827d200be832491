// Workspace checkpoints through the whole fleet: a real nats-server, controller and two agent
// processes. Tools are shell scripts that call the (fake) Anthropic API through the agent's
// metering proxy with curl; the agents checkpoint after LLM responses and at task end, the
// controller keeps the catalogue, restores in place, and branches checkpoints from one agent's
// store to the other's over the bus.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/checkpoint_fleet.h"
#include "tests/support/catch_result.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string Str(const json::value& v) { return std::string(v.as_string()); }

}  // namespace

TEST_CASE(
    "a task's workspace is checkpointed after LLM responses and at its end, restored and "
    "branched onto another agent",
    "[checkpoint]") {
  // No replicas: the branches below are the only copies, so what travels can be counted.
  CheckpointFleet f({"--checkpoint-replicas", "0"});
  const std::string script =
      "set -e; echo one > notes.txt; mkdir -p src; echo 'int main(){}' > "
      "src/main.c; " +
      kLlmCall + "; " + WaitForCheckpoints(1) + "; echo two > notes.txt; rm src/main.c; " +
      kLlmCall + "; " + WaitForCheckpoints(2) + "; echo three > notes.txt";
  const std::string a = f.Run("agent-1", script);
  REQUIRE(f.tasks->WaitState(a, "succeeded", 30s));

  // Two after the LLM calls, one at the end; each hangs from the one before.
  json::array cps;
  REQUIRE(WaitUntil([&] { return (cps = f.CheckpointsOf(a)).size() == 3; }, 10s));
  INFO(json::serialize(cps));
  const json::object& first = cps[0].as_object();
  const json::object& second = cps[1].as_object();
  const json::object& last = cps[2].as_object();
  CHECK(Str(first.at("trigger")) == "auto");
  CHECK(Str(second.at("trigger")) == "auto");
  CHECK(Str(last.at("trigger")) == "task_end");
  CHECK(Str(second.at("parent")) == Str(first.at("id")));
  CHECK(Str(last.at("parent")) == Str(second.at("id")));
  CHECK(Str(first.at("machine_id")) == f.ids["agent-1"]);
  CHECK(first.at("files").to_number<int64_t>() == 2);
  CHECK(second.at("files").to_number<int64_t>() == 1);
  const std::string cp1 = Str(first.at("id"));
  const std::string cp2 = Str(second.at("id"));
  const std::string cp3 = Str(last.at("id"));

  // What changed from the first to the last.
  json::value diff = f.controller->GetJson("/v1/checkpoints/" + cp1 + "/diff?to=" + cp3);
  INFO(json::serialize(diff));
  const json::array& changes = diff.at("changes").as_array();
  REQUIRE(changes.size() == 2);
  CHECK(Str(changes[0].at("path")) == "notes.txt");
  CHECK(Str(changes[0].at("kind")) == "changed");
  CHECK(Str(changes[1].at("path")) == "src/main.c");
  CHECK(Str(changes[1].at("kind")) == "removed");

  // Restore in place brings the first state back; the workspace as it was (the task_end
  // checkpoint) needs no new checkpoint.
  const fs::path ws = f.Workspace("agent-1", a);
  REQUIRE(ReadAll(ws / "notes.txt") == "three\n");
  json::object restored = f.Post("/v1/checkpoints/" + cp1 + "/restore", "", 200);
  CHECK(restored.at("before").is_null());
  CHECK(ReadAll(ws / "notes.txt") == "one\n");
  CHECK(ReadAll(ws / "src/main.c") == "int main(){}\n");
  // Work done after a checkpoint is itself kept before a restore replaces it.
  std::ofstream(ws / "notes.txt") << "edited by hand\n";
  restored = f.Post("/v1/checkpoints/" + cp2 + "/restore", R"({"task":")" + a + R"("})", 200);
  REQUIRE(restored.at("before").is_object());
  CHECK(Str(restored.at("before").at("trigger")) == "before_restore");
  CHECK(ReadAll(ws / "notes.txt") == "two\n");
  CHECK(!fs::exists(ws / "src/main.c"));

  // Branch onto the other agent: objects travel once; a second branch moves nothing.
  json::object branch = f.Post("/v1/checkpoints/" + cp1 + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects").to_number<int64_t>() > 0);
  CHECK(branch.at("sent_objects").to_number<int64_t>() <=
        branch.at("objects").to_number<int64_t>());
  const json::array& copies = branch.at("checkpoint").at("copies").as_array();
  CHECK(std::find(copies.begin(), copies.end(), json::value(f.ids["agent-2"])) != copies.end());
  branch = f.Post("/v1/checkpoints/" + cp1 + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects").to_number<int64_t>() == 0);
  // Every chunk re-read and re-hashed; the catalogue says when.
  CHECK(f.controller->GetJson("/v1/checkpoints/" + cp1).at("verified_at").is_null());
  json::object verified = f.Post("/v1/checkpoints/" + cp1 + "/verify", "", 200);
  CHECK(verified.at("verified_at").is_string());

  // A new task on the other agent starts from the branched checkpoint...
  const std::string b = f.Run("agent-2", "cat notes.txt; ls src", cp1);
  REQUIRE(f.tasks->WaitState(b, "succeeded", 30s));
  CHECK(Str(f.tasks->Task(b).at("machine_id")) == f.ids["agent-2"]);
  CHECK(f.tasks->Logs(b).find("one\nmain.c") != std::string::npos);
  // Only what agent-2 lacks travels: the second and third share their (empty) src tree.
  branch = f.Post("/v1/checkpoints/" + cp2 + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects") == branch.at("objects"));
  branch = f.Post("/v1/checkpoints/" + cp3 + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects").to_number<int64_t>() ==
        branch.at("objects").to_number<int64_t>() - 1);
  const std::string c = f.Run("agent-2", "cat notes.txt", cp3);
  REQUIRE(f.tasks->WaitState(c, "succeeded", 30s));
  CHECK(f.tasks->Logs(c).find("three") != std::string::npos);
  json::value shown = f.controller->GetJson("/v1/checkpoints/" + cp3);
  CHECK(shown.at("copies").as_array().size() == 2);
}

TEST_CASE("a checkpoint taken on command, restore pausing a running tool, and bad requests",
          "[checkpoint]") {
  CheckpointFleet f;
  // A tool that keeps working until told otherwise.
  const std::string a = f.Run("agent-1", "echo draft > plan.md; while :; do sleep 0.1; done");
  REQUIRE(f.tasks->WaitState(a, "running", 15s));
  REQUIRE(WaitUntil([&] { return fs::exists(f.Workspace("agent-1", a) / "plan.md"); }, 10s));

  json::object made = f.Post("/v1/machines/agent-1/checkpoints", R"({"label":"by hand"})", 201);
  REQUIRE(made.at("checkpoints").as_array().size() == 1);
  const json::object cp = made.at("checkpoints").at(0).as_object();
  CHECK(Str(cp.at("trigger")) == "manual");
  CHECK(Str(cp.at("label")) == "by hand");
  CHECK(Str(cp.at("task_id")) == a);
  const std::string id = Str(cp.at("id"));

  std::ofstream(f.Workspace("agent-1", a) / "plan.md") << "ruined\n";
  json::object restored = f.Post("/v1/checkpoints/" + id + "/restore", "", 200);
  // The tool was stopped first (paused, its workspace kept) and the workspace is back.
  CHECK(f.tasks->WaitState(a, "paused", 10s));
  CHECK(ReadAll(f.Workspace("agent-1", a) / "plan.md") == "draft\n");
  // The ruined state was kept when the tool stopped (task_end), so the restore needed no
  // before_restore checkpoint of its own.
  CHECK(restored.at("before").is_null());
  json::array cps = f.CheckpointsOf(a);
  REQUIRE(cps.size() == 2);
  CHECK(Str(cps[1].at("trigger")) == "task_end");
  CHECK(Str(cps[1].at("parent")) == id);
  const std::string child = Str(cps[1].at("id"));
  // Both are copied onto the other agent as they are taken (one replica by default).
  REQUIRE(WaitUntil(
      [&] {
        for (const auto& c : f.CheckpointsOf(a)) {
          if (c.at("copies").as_array().size() != 2) return false;
        }
        return true;
      },
      20s));
  CHECK(fs::exists(fs::path(f.dir / "agent-2") / "checkpoints" / "checkpoints" / (id + ".pb")));
  // So no machine lacks it, and a branch that names none has nowhere to go.
  auto nowhere =
      f.controller->Call("POST", "/v1/checkpoints/" + id + "/branch", std::nullopt, "{}");
  REQUIRE(nowhere);
  CHECK(nowhere->status == 409);
  CHECK(nowhere->body.find("already holds checkpoint") != std::string::npos);

  // The paused task goes on, in the restored workspace, on its machine.
  const std::string done = f.Run("agent-2", "true");
  auto not_paused = f.controller->Call("POST", "/v1/tasks/" + done + "/resume");
  REQUIRE(not_paused);
  CHECK(not_paused->status == 409);
  // Its end is checkpointed too; that must be in the catalogue before the count below.
  REQUIRE(f.tasks->WaitState(done, "succeeded", 15s));
  REQUIRE(WaitUntil([&] { return f.CheckpointsOf(done).size() == 1; }, 10s));
  // A file put in by hand after the restore stays: the tool goes on in that workspace
  // rather than one written afresh from a checkpoint.
  std::ofstream(f.Workspace("agent-1", a) / "by-hand.txt") << "kept\n";
  f.Post("/v1/tasks/" + a + "/resume", "", 200);
  REQUIRE(f.tasks->WaitState(a, "running", 15s));
  CHECK(Str(f.tasks->Task(a).at("machine_id")) == f.ids["agent-1"]);
  CHECK(ReadAll(f.Workspace("agent-1", a) / "by-hand.txt") == "kept\n");
  CHECK(ReadAll(f.Workspace("agent-1", a) / "plan.md") == "draft\n");

  // Bad input: clear errors, nothing changes.
  const size_t before =
      f.controller->GetJson("/v1/checkpoints").at("checkpoints").as_array().size();
  struct Bad {
    std::string method, path, body;
    int status;
    std::string says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"GET", "/v1/checkpoints/cp-0000", "", 404, "no checkpoint"},
           {"POST", "/v1/checkpoints/" + id + "/branch", R"({"to":5})", 400, "must be a string"},
           {"POST", "/v1/checkpoints/" + id + "/branch", R"({"to":"nowhere"})", 404, "no machine"},
           {"POST", "/v1/checkpoints/" + id + "/restore", "{not json", 400, "not valid JSON"},
           {"POST", "/v1/checkpoints/" + id + "/restore", R"({"task":7})", 400, "must be a string"},
           {"POST", "/v1/checkpoints/" + id + "/restore", R"({"colour":"red"})", 400, "unknown"},
           {"GET", "/v1/checkpoints/" + id + "/diff", "", 400, "?to="},
           {"POST", "/v1/machines/nowhere/checkpoints", "", 404, "no machine"},
           {"POST", "/v1/machines/agent-2/checkpoints", "", 404, "no task runs"},
           {"POST", "/v1/machines/agent-1/checkpoints", R"({"task":"../../etc"})", 400,
            "not a task id"},
           {"PUT", "/v1/checkpoints/" + id, "", 405, ""},
       }) {
    auto r = f.controller->Call(bad.method, bad.path, std::nullopt, bad.body);
    REQUIRE(r);
    INFO(bad.method << " " << bad.path << " " << bad.body << " -> " << r->status << " " << r->body);
    CHECK(r->status == bad.status);
    CHECK(r->body.find(bad.says) != std::string::npos);
  }
  CHECK(f.controller->GetJson("/v1/checkpoints").at("checkpoints").as_array().size() == before);

  // A task that has yet to start from a checkpoint keeps it from being deleted.
  f.Post("/v1/projects/demo/stop", "", 200);
  const std::string waiting = f.Run("agent-2", "true", id);
  auto refused = f.controller->Call("DELETE", "/v1/checkpoints/" + id);
  REQUIRE(refused);
  CHECK(refused->status == 409);
  CHECK(refused->body.find("starts or resumes from") != std::string::npos);
  CHECK(f.tasks->Cancel(waiting) == 200);

  // Delete: gone from the agent's store and the catalogue.
  auto del = f.controller->Call("DELETE", "/v1/checkpoints/" + id);
  REQUIRE(del);
  INFO(del->body);
  CHECK(del->status == 200);
  CHECK(f.controller->Call("GET", "/v1/checkpoints/" + id)->status == 404);
  for (const std::string agent : {"agent-1", "agent-2"}) {
    CHECK(!fs::exists(fs::path(f.dir / agent) / "checkpoints" / "checkpoints" / (id + ".pb")));
  }
  // Its child now hangs from what it hung from (nothing), as in the agents' stores.
  CHECK(Str(f.controller->GetJson("/v1/checkpoints/" + child).at("parent")) == "");
}

TEST_CASE("a task requeued after its agent died resumes from its newest checkpoint",
          "[checkpoint]") {
  CheckpointFleet f;
  const std::string script =
      "if [ -f progress.txt ]; then echo \"resumed at $(cat progress.txt)\"; exit 0; fi; "
      "echo step1 > progress.txt; " +
      kLlmCall + "; " + WaitForCheckpoints(1) +
      "; echo step2 > progress.txt; touch started; while :; do sleep 0.1; done";
  const std::string a = f.Run("agent-1", script);
  const fs::path ws = f.Workspace("agent-1", a);
  REQUIRE(WaitUntil([&] { return fs::exists(ws / "started"); }, 20s));

  // The agent dies with the tool; it comes back (as under systemd) and the controller
  // requeues the task, which starts again from the checkpoint after step 1.
  f.agents[0]->Kill();
  f.agents[0]->Start();
  REQUIRE(f.tasks->WaitState(a, "succeeded", 30s));
  json::object t = f.tasks->Task(a);
  CHECK(t.at("attempts").to_number<int64_t>() == 2);
  CHECK(f.tasks->Logs(a).find("resumed at step1") != std::string::npos);
  // What the dead attempt left after that checkpoint was kept before it was replaced.
  bool kept = false;
  for (const auto& cp : f.CheckpointsOf(a)) {
    if (cp.at("trigger").as_string() == "before_restore") kept = true;
  }
  CHECK(kept);
}

TEST_CASE("a task whose machine is lost resumes on another from its newest checkpoint there",
          "[checkpoint]") {
  CheckpointFleet f({"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"});
  const std::string script =
      "if [ -f progress.txt ]; then echo \"resumed at $(cat progress.txt)\"; exit 0; fi; "
      "echo step1 > progress.txt; " +
      kLlmCall + "; " + WaitForCheckpoints(1) +
      "; echo step2 > progress.txt; touch started; while :; do sleep 0.1; done";
  const std::string a = f.Run("", script);
  REQUIRE(f.tasks->WaitState(a, "running", 15s));
  const std::string first = Str(f.tasks->Task(a).at("machine_id"));
  const std::string first_name = first == f.ids["agent-1"] ? "agent-1" : "agent-2";
  const std::string other_name = first_name == "agent-1" ? "agent-2" : "agent-1";
  REQUIRE(WaitUntil([&] { return fs::exists(f.Workspace(first_name, a) / "started"); }, 20s));
  // The checkpoint is copied onto the other machine as it is taken (a replica), and then the
  // first machine is gone with its store.
  REQUIRE(WaitUntil(
      [&] {
        json::array cps = f.CheckpointsOf(a);
        if (cps.empty()) return false;
        const json::array& copies = cps.back().at("copies").as_array();
        return std::find(copies.begin(), copies.end(), json::value(f.ids[other_name])) !=
               copies.end();
      },
      20s));
  f.agents[first_name == "agent-1" ? 0 : 1]->Kill();
  REQUIRE(f.tasks->WaitState(a, "succeeded", 30s));
  json::object t = f.tasks->Task(a);
  CHECK(Str(t.at("machine_id")) == f.ids[other_name]);
  CHECK(f.tasks->Logs(a).find("resumed at step1") != std::string::npos);
}

TEST_CASE("a machine whose checkpoint store was wiped no longer counts as holding its copies",
          "[checkpoint]") {
  CheckpointFleet f;
  const std::string a =
      f.Run("agent-1", "echo kept > notes.txt; " + kLlmCall + "; " + WaitForCheckpoints(1));
  REQUIRE(f.tasks->WaitState(a, "succeeded", 30s));
  std::string id;
  REQUIRE(WaitUntil(
      [&] {
        json::array cps = f.CheckpointsOf(a);
        if (cps.empty() || cps.front().at("copies").as_array().size() != 2) return false;
        id = Str(cps.front().at("id"));
        return true;
      },
      20s));

  // agent-2 comes back with an empty store: it registers listing what it holds (nothing).
  f.agents[1]->Kill();
  fs::remove_all(fs::path(f.dir / "agent-2") / "checkpoints");
  f.agents[1]->Start();
  json::value shown;
  const bool forgotten = WaitUntil(
      [&] {
        shown = f.controller->GetJson("/v1/checkpoints/" + id);
        const json::array& copies = shown.at("copies").as_array();
        return copies.size() == 1 && copies[0] == json::value(f.ids["agent-1"]);
      },
      20s);
  INFO(json::serialize(shown));
  REQUIRE(forgotten);
  // So a task started from it there gets it again, every object.
  json::object branch = f.Post("/v1/checkpoints/" + id + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects") == branch.at("objects"));
  const std::string b = f.Run("agent-2", "cat notes.txt", id);
  REQUIRE(f.tasks->WaitState(b, "succeeded", 30s));
  CHECK(f.tasks->Logs(b).find("kept") != std::string::npos);
}
