// Tasks end to end: a real nats-server, controller and agents running real shell tools.
#include <signal.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::vector<std::string> kFast = {"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"};

bool Ready(ControllerProcess& c, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto m = c.MachineByName(n);
    if (!m || m->at("state").as_string() != "ready") return false;
  }
  return true;
}

// A fleet of `agents` agents on one nats-server and controller, with project "demo".
struct Fleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  ControllerProcess controller{dir / "controller", nats.url(), kFast};
  std::vector<std::unique_ptr<AgentProcess>> agents;
  TaskClient tasks{controller};

  // Tasks run boxed, each as a user of its own that sees only its workspace of the host's
  // files: the files a test shares with its tasks (gates, what they record) lie in a directory
  // every box shares ([box] shared_paths).
  std::string shared = dir / "shared";

  explicit Fleet(int n) {
    std::filesystem::create_directories(shared);
    std::filesystem::permissions(shared,
                                 std::filesystem::perms::all | std::filesystem::perms::sticky_bit);
    std::ofstream(dir / "agent.toml") << "[box]\nshared_paths = [\"" << shared << "\"]\n";
    std::vector<std::string> names;
    for (int i = 1; i <= n; ++i) {
      names.push_back("agent-" + std::to_string(i));
      agents.push_back(
          std::make_unique<AgentProcess>(names.back(), dir / names.back(), nats.url(),
                                         std::vector<std::string>{"--config", dir / "agent.toml"}));
    }
    REQUIRE(WaitUntil([&] { return Ready(controller, names); }, 60s));
    // An agent takes commands once its registration is answered, a moment after the
    // controller lists it ready: before that a task placed on it goes elsewhere.
    REQUIRE(WaitUntil(
        [&] {
          for (const auto& a : agents) {
            if (!a->HoldsMachineId()) return false;
          }
          return true;
        },
        5s));
    tasks.CreateProject("demo");
  }

  std::string Shared(const std::string& name) const { return shared + "/" + name; }

  // A shell loop that records where it runs (its workspace), then waits for `gate` to exist;
  // prints `done`.
  std::vector<std::string> GatedTask(const std::string& gate, const std::string& runs_file) {
    return {"sh", "-c",
            "pwd >> " + runs_file + "; echo started; while [ ! -e " + gate +
                " ]; do sleep 0.02; done; echo done"};
  }

  AgentProcess& AgentNamed(const std::string& name) {
    for (auto& a : agents) {
      if (a->name() == name) return *a;
    }
    FAIL("no agent " << name);
    return *agents[0];
  }
};

// `item` n times, comma-separated.
std::string Repeat(const std::string& item, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + item;
  return out;
}

std::string ManyEnv(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? ",\"V" : "\"V") + std::to_string(i) + "\":\"x\"";
  return out;
}

// The lines of a file tasks append to.
std::vector<std::string> ReadRuns(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("twenty shell tasks over two agents all succeed with the right output") {
  Fleet f(2);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(
        f.tasks.SubmitShell("demo", {"sh", "-c",
                                     "echo out-" + std::to_string(i) + "; echo err-" +
                                         std::to_string(i) + " >&2; echo $AUTOVIBE_TASK_ID"}));
  }
  std::set<std::string> machines;
  for (int i = 0; i < 20; ++i) {
    REQUIRE(f.tasks.WaitState(ids[i], "succeeded"));
    auto t = f.tasks.Task(ids[i]);
    CHECK(t.at("exit_code").as_int64() == 0);
    CHECK(t.at("attempts").as_int64() == 1);
    machines.insert(std::string(t.at("machine_name").as_string()));
    const std::string logs = f.tasks.Logs(ids[i]);
    CHECK_THAT(logs, Catch::Contains("out-" + std::to_string(i) + "\n"));
    CHECK_THAT(logs, Catch::Contains("err-" + std::to_string(i) + "\n"));
    CHECK_THAT(logs, Catch::Contains(ids[i]));
  }
  CHECK(machines == std::set<std::string>{"agent-1", "agent-2"});
  auto project = f.controller.GetJson("/v1/projects/demo");
  CHECK(project.at("tasks").at("succeeded").as_int64() == 20);
}

TEST_CASE("higher priority runs first once a slot frees") {
  Fleet f(1);
  const std::string gate = f.Shared("gate");
  const std::string blocker = f.tasks.SubmitShell("demo", f.GatedTask(gate, f.Shared("runs")));
  REQUIRE(f.tasks.WaitState(blocker, "running"));
  const std::string low = f.tasks.SubmitShell("demo", {"true"}, {{"priority", 1}});
  const std::string high = f.tasks.SubmitShell("demo", {"true"}, {{"priority", 10}});
  CHECK(f.tasks.State(low) == "queued");
  std::ofstream(gate).put('x');
  REQUIRE(f.tasks.WaitState(low, "succeeded"));
  REQUIRE(f.tasks.WaitState(high, "succeeded"));
  // One slot: the high-priority task, submitted last, started first.
  CHECK(f.tasks.Task(high).at("started_at").as_string() <=
        f.tasks.Task(low).at("assigned_at").as_string());
}

TEST_CASE("a dependency chain runs in order, and a failure fails what waits on it") {
  Fleet f(2);
  const std::string a = f.tasks.SubmitShell("demo", {"sh", "-c", "echo a > " + f.Shared("a")});
  const std::string b = f.tasks.SubmitShell(
      "demo", {"sh", "-c", "test -e " + f.Shared("a") + " && echo b > " + f.Shared("b")},
      {{"depends_on", json::array{a}}});
  const std::string c =
      f.tasks.SubmitShell("demo", {"test", "-e", f.Shared("b")}, {{"depends_on", json::array{b}}});
  REQUIRE(f.tasks.WaitState(c, "succeeded"));
  CHECK(f.tasks.State(a) == "succeeded");
  CHECK(f.tasks.State(b) == "succeeded");

  const std::string bad = f.tasks.SubmitShell("demo", {"sh", "-c", "exit 7"});
  const std::string after =
      f.tasks.SubmitShell("demo", {"true"}, {{"depends_on", json::array{bad}}});
  const std::string after_after =
      f.tasks.SubmitShell("demo", {"true"}, {{"depends_on", json::array{after}}});
  REQUIRE(f.tasks.WaitState(bad, "failed"));
  CHECK(f.tasks.Task(bad).at("exit_code").as_int64() == 7);
  REQUIRE(f.tasks.WaitState(after_after, "failed"));
  CHECK(f.tasks.Task(after).at("reason").as_string() == "dependency " + bad + " failed");
  CHECK(f.tasks.Task(after).at("attempts").as_int64() == 0);
}

TEST_CASE("cancel kills the whole process tree within the grace period") {
  Fleet f(1);
  const std::string runs = f.Shared("runs");
  // A tool that ignores SIGTERM and leaves a background child: only SIGKILL ends it.
  const std::string id = f.tasks.SubmitShell(
      "demo", {"sh", "-c", "trap '' TERM; sleep 1000 & pwd > " + runs + "; wait"});
  REQUIRE(f.tasks.WaitState(id, "running"));
  REQUIRE(WaitUntil([&] { return ReadRuns(runs).size() == 1; }, 10s));
  const std::string workspace = ReadRuns(runs)[0];
  REQUIRE(AnyProcessIn(workspace));
  const auto start = std::chrono::steady_clock::now();
  CHECK(f.tasks.Cancel(id) == 200);
  CHECK(f.tasks.State(id) == "cancelled");
  // Default grace is 5 s; everything in the group is gone within it (plus a margin).
  REQUIRE(WaitUntil([&] { return !AnyProcessIn(workspace); }, 8s));
  CHECK(std::chrono::steady_clock::now() - start < 7s);
  CHECK(f.tasks.Cancel(id) == 409);
  // The agent reports the tool gone, which frees the machine for the next task.
  const std::string next = f.tasks.SubmitShell("demo", {"true"});
  REQUIRE(f.tasks.WaitState(next, "succeeded", 15s));
  CHECK_THAT(std::string(f.tasks.Task(id).at("reason").as_string()), Catch::Contains("cancelled"));
}

TEST_CASE("a task over its timeout is stopped and fails with the reason") {
  Fleet f(1);
  const std::string id = f.tasks.SubmitShell("demo", {"sleep", "1000"}, {{"timeout_s", 1}});
  REQUIRE(f.tasks.WaitState(id, "failed", 20s));
  auto t = f.tasks.Task(id);
  CHECK_THAT(std::string(t.at("reason").as_string()), Catch::Contains("timed out"));
  CHECK(t.at("attempts").as_int64() == 1);
}

// Runs a gated task, takes its agent down with `take_down`, and checks that the task runs
// again on the other agent, on its second attempt, and succeeds there. Returns the machine
// name it was taken from.
std::string TaskSurvivesItsAgent(Fleet& f, const std::function<void(AgentProcess&)>& take_down,
                                 std::string* first_tool = nullptr) {
  const std::string gate = f.Shared("gate");
  const std::string runs = f.Shared("runs");
  const std::string id = f.tasks.SubmitShell("demo", f.GatedTask(gate, runs));
  REQUIRE(f.tasks.WaitState(id, "running"));
  REQUIRE(WaitUntil([&] { return ReadRuns(runs).size() == 1; }, 10s));
  if (first_tool != nullptr) *first_tool = ReadRuns(runs)[0];
  const std::string victim(f.tasks.Task(id).at("machine_name").as_string());
  take_down(f.AgentNamed(victim));
  REQUIRE(WaitUntil([&] { return ReadRuns(runs).size() == 2; }, 15s));
  auto t = f.tasks.Task(id);
  CHECK(t.at("machine_name").as_string() != victim);
  // No attempt wasted on the machine that went away.
  CHECK(t.at("attempts").as_int64() == 2);
  std::ofstream(gate).put('x');
  REQUIRE(f.tasks.WaitState(id, "succeeded"));
  CHECK(f.tasks.Task(id).at("attempts").as_int64() == 2);
  return victim;
}

TEST_CASE("an agent killed mid-task: the task finishes elsewhere, no tool is left behind") {
  Fleet f(2);
  std::string first_tool;
  TaskSurvivesItsAgent(
      f,
      [&](AgentProcess& agent) {
        agent.Kill();
        // The agent's tools die with it.
        REQUIRE(WaitUntil([&] { return !AnyProcessIn(first_tool); }, 5s));
      },
      &first_tool);
}

TEST_CASE("an agent stopped mid-task: its machine is lost at once, the task runs elsewhere") {
  Fleet f(2);
  // SIGTERM: the agent stops its tools and says so before it exits; its machine is lost
  // without waiting for the heartbeat ttl.
  const std::string stopped =
      TaskSurvivesItsAgent(f, [](AgentProcess& agent) { agent.process().Signal(SIGTERM); });
  auto m = f.controller.MachineByName(stopped);
  REQUIRE(m);
  CHECK(m->at("state").as_string() == "lost");
}

TEST_CASE("a controller killed mid-task: the task ends right once it is back") {
  Fleet f(1);
  const std::string gate = f.Shared("gate");
  const std::string id = f.tasks.SubmitShell("demo", f.GatedTask(gate, f.Shared("runs")));
  REQUIRE(f.tasks.WaitState(id, "running"));
  f.controller.Kill();
  // The task finishes while the controller is down; its events wait in JetStream.
  std::ofstream(gate).put('x');
  f.controller.Start();
  REQUIRE(f.tasks.WaitState(id, "succeeded"));
  auto t = f.tasks.Task(id);
  CHECK(t.at("attempts").as_int64() == 1);
  const std::string logs = f.tasks.Logs(id);
  // Applied once: each line appears exactly once.
  CHECK(logs == "started\ndone\n");
}

TEST_CASE("a lost agent that comes back still running a task has its stale copy cancelled") {
  Fleet f(2);
  const std::string gate = f.Shared("gate");
  const std::string runs = f.Shared("runs");
  const std::string id = f.tasks.SubmitShell("demo", f.GatedTask(gate, runs));
  REQUIRE(f.tasks.WaitState(id, "running"));
  REQUIRE(WaitUntil([&] { return ReadRuns(runs).size() == 1; }, 10s));
  const std::string first_tool = ReadRuns(runs)[0];
  const std::string frozen(f.tasks.Task(id).at("machine_name").as_string());
  // A frozen agent looks like a network partition: its tool keeps running meanwhile.
  f.AgentNamed(frozen).process().Signal(SIGSTOP);
  REQUIRE(WaitUntil([&] { return ReadRuns(runs).size() == 2; }, 15s));
  CHECK(AnyProcessIn(first_tool));
  f.AgentNamed(frozen).process().Signal(SIGCONT);
  // Back, it reports the old copy; the controller has it stopped.
  REQUIRE(WaitUntil([&] { return !AnyProcessIn(first_tool); }, 15s));
  std::ofstream(gate).put('x');
  REQUIRE(f.tasks.WaitState(id, "succeeded"));
  CHECK(f.tasks.Task(id).at("machine_name").as_string() != frozen);
}

TEST_CASE("bad task submissions get clear errors and change nothing") {
  Fleet f(1);
  auto post = [&](const std::string& body) {
    return f.controller.Call("POST", "/v1/tasks", std::nullopt, body);
  };
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, "not valid JSON"},
      {"[]", 400, "JSON object"},
      {R"({"tool":"shell","command":["true"]})", 400, "project"},
      {R"({"project":"nope","tool":"shell","command":["true"]})", 404, "no project"},
      {R"({"project":"demo","tool":"vim","command":["true"]})", 400, "unknown tool"},
      {R"({"project":"demo","tool":"shell"})", 400, "command"},
      {R"({"project":"demo","tool":"claude-code"})", 400, "prompt"},
      {R"({"project":"demo","tool":"shell","command":["true"],"priority":"high"})", 400,
       "priority"},
      {R"({"project":"demo","tool":"shell","command":["true"],"timeout_s":-1})", 400, "timeout_s"},
      {R"({"project":"demo","tool":"shell","command":["true"],"depends_on":["t-000000000000"]})",
       400, "unknown task"},
      {R"({"project":"demo","tool":"shell","command":["true"],"env":{"AUTOVIBE_TASK_ID":"x"}})",
       400, "AUTOVIBE_TASK_ID"},
      {R"({"project":"demo","tool":"shell","command":["true"],"colour":"red"})", 400,
       "unknown field"},
      {R"({"project":"demo","tool":"shell","command":["true"],"env":{"ANTHROPIC_BASE_URL":"x"}})",
       400, "provider URLs and keys"},
      {R"({"project":"demo","tool":"shell","command":["true"],"env":{"BAD NAME":"x"}})", 400,
       "bad variable name"},
      {R"({"project":"demo","tool":"shell","command":["true"],"env":{"":"x"}})", 400, "empty key"},
      {R"({"project":"demo","tool":"claude-code","prompt":"p","options":{"max_turns":"0"}})", 400,
       "max_turns"},
      {R"({"project":"demo","tool":"claude-code","prompt":"p","from_checkpoint":"c-1"})", 400,
       "not a checkpoint id"},
      {R"({"project":"demo","tool":"claude-code","prompt":"p","from_checkpoint":"cp-9a"})", 404,
       "no checkpoint cp-9a"},
      {R"({"project":"demo","tool":"claude-code","prompt":")" + std::string(300 << 10, 'p') +
           R"("})",
       400, "longer than 256 KiB"},
      {R"({"project":"demo","tool":"shell","command":[)" + Repeat(R"("a")", 1025) + "]}", 400,
       "command"},
      {R"({"project":"demo","tool":"shell","command":["true"],"depends_on":[)" +
           Repeat(R"("t-000000000000")", 1001) + "]}",
       400, "depends_on"},
      {R"({"project":"demo","tool":"shell","command":["true"],"env":{)" + ManyEnv(257) + "}}", 400,
       "more than 256 entries"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = post(c.body);
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK_THAT(r->body, Catch::Contains(c.says));
  }
  auto list = f.controller.GetJson("/v1/tasks");
  CHECK(list.at("tasks").as_array().empty());
  // Malformed queries: 400 with what is wrong.
  const std::string real = f.tasks.SubmitShell("demo", {"true"});
  for (const std::string& target :
       {std::string("/v1/tasks?limit=abc"), std::string("/v1/tasks?limit=-1"),
        std::string("/v1/tasks?state=sleeping"), "/v1/tasks/" + real + "/logs?after=x",
        "/v1/tasks/" + real + "/logs?after=-5&follow=1"}) {
    INFO(target);
    auto r = f.controller.Call("GET", target, std::nullopt);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body).at("error").at("code").as_string() == "bad_request");
  }
  auto p = f.controller.Call("POST", "/v1/projects", std::nullopt, R"({"name":"Bad Name"})");
  REQUIRE(p);
  CHECK(p->status == 400);
  auto dup = f.controller.Call("POST", "/v1/projects", std::nullopt, R"({"name":"demo"})");
  REQUIRE(dup);
  CHECK(dup->status == 409);
}
