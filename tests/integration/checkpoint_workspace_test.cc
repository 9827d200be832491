// Workspaces as tasks really leave them, through the whole fleet (a real nats-server,
// controller and two agents): a Python virtualenv, whose interpreter is an absolute link out of
// the workspace, works after a branch onto the other machine; and a task that makes 30,000
// nested directories fails its checkpoints with the reason while the agent and its other task
// go on.
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/integration/checkpoint_fleet.h"
#include "tests/support/catch_result.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// The line of `logs` that starts with `prefix`, without it; "" when there is none.
std::string LineAfter(const std::string& logs, const std::string& prefix) {
  size_t at = logs.find(prefix);
  if (at == std::string::npos) return "";
  at += prefix.size();
  return logs.substr(at, logs.find('\n', at) - at);
}

// Puts the fleet's directories on tmpfs while it lives, when there is one: 30,000 nested
// directories take a minute to remove from a disk mounted with `discard`, a second there.
struct TmpdirOnTmpfs {
  std::string saved;
  bool had = false;
  TmpdirOnTmpfs() {
    if (const char* t = std::getenv("TMPDIR")) {
      saved = t;
      had = true;
    }
    if (::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  }
  ~TmpdirOnTmpfs() {
    if (had) {
      ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
};

}  // namespace

TEST_CASE("a Python virtualenv checkpointed on one agent runs on the other after a branch",
          "[checkpoint]") {
  if (!fs::exists("/usr/bin/python3")) {
    WARN("no /usr/bin/python3 on this machine: nothing to make a virtualenv with");
    return;
  }
  // No replicas: the branch is what brings the checkpoint to agent-2.
  CheckpointFleet f({"--checkpoint-replicas", "0"});
  // `venv` works offline (no pip); where it is not to be had, the same layout by hand: the
  // interpreter an absolute link out of the workspace, the others relative links to it.
  const std::string a = f.Run(
      "agent-1",
      "set -e; /usr/bin/python3 -m venv --without-pip venv || { mkdir -p venv/bin && "
      "ln -sf /usr/bin/python3 venv/bin/python3 && ln -sf python3 venv/bin/python && "
      "printf 'home = /usr/bin\\ninclude-system-site-packages = false\\n' > venv/pyvenv.cfg; }; "
      "venv/bin/python -c 'import sys; print(\"prefix=\" + sys.prefix)'");
  REQUIRE(f.tasks->WaitState(a, "succeeded", 60s));
  const fs::path made = f.Workspace("agent-1", a) / "venv/bin/python3";
  REQUIRE(fs::is_symlink(made));
  REQUIRE(fs::read_symlink(made).is_absolute());
  const std::string python = fs::read_symlink(made).string();

  // Its task_end checkpoint, branched onto the other agent.
  json::array cps;
  REQUIRE(WaitUntil([&] { return !(cps = f.CheckpointsOf(a)).empty(); }, 10s));
  const std::string cp = Str(cps.back().at("id"));
  json::object branch = f.Post("/v1/checkpoints/" + cp + "/branch", R"({"to":"agent-2"})", 200);
  CHECK(branch.at("sent_objects").to_number<int64_t>() > 0);

  // A task there starts from it and runs the virtualenv's interpreter.
  const std::string b = f.Run("agent-2",
                              "set -e; echo \"link=$(readlink venv/bin/python3)\"; "
                              "venv/bin/python -c 'import sys; print(\"prefix=\" + sys.prefix)'",
                              cp);
  REQUIRE(f.tasks->WaitState(b, "succeeded", 30s));
  CHECK(Str(f.tasks->Task(b).at("machine_id")) == f.ids["agent-2"]);
  const std::string logs = f.tasks->Logs(b);
  INFO(logs);
  CHECK(LineAfter(logs, "link=") == python);
  // The interpreter found its pyvenv.cfg beside the links: it runs as the virtualenv.
  CHECK(LineAfter(logs, "prefix=").ends_with("/venv"));
  const fs::path there = f.Workspace("agent-2", b) / "venv/bin";
  CHECK(fs::read_symlink(there / "python3").string() == python);
  CHECK(fs::read_symlink(there / "python").string() == "python3");
}

TEST_CASE(
    "a task that makes 30,000 nested directories fails its checkpoints with the reason, "
    "and the agent and its other task go on",
    "[checkpoint]") {
  TmpdirOnTmpfs tmpfs;
  CheckpointFleet f({}, {"--task-slots", "2"});
  // A task that keeps working until told to stop, counting.
  const std::string steady =
      f.Run("agent-1",
            "i=0; until [ -f stop ]; do i=$((i+1)); echo $i > count; sleep 0.05; done; "
            "echo steady done");
  REQUIRE(f.tasks->WaitState(steady, "running", 15s));
  // The hostile one: 30,000 nested directories, an LLM call (a checkpoint is due after it),
  // then it waits.
  const std::string deep =
      f.Run("agent-1",
            "python3 -c \"import os\nfor _ in range(30000): os.mkdir('d'); os.chdir('d')\" && "
            "touch made && " +
                kLlmCall + " && until [ -f stop ]; do sleep 0.05; done");
  const fs::path deep_ws = f.Workspace("agent-1", deep);
  REQUIRE(WaitUntil([&] { return fs::exists(deep_ws / "made"); }, 120s));

  // The automatic checkpoint after the call failed, and the task's log says why.
  const std::string reason = "more than 4096 directories deep";
  REQUIRE(WaitUntil(
      [&] { return f.tasks->Logs(deep).find("checkpoint failed: ") != std::string::npos; }, 30s));
  const std::string logs = f.tasks->Logs(deep);
  INFO(logs);
  CHECK_THAT(logs, Catch::Contains(reason));

  // So does one asked for.
  auto asked = f.controller->Call("POST", "/v1/machines/agent-1/checkpoints", std::nullopt,
                                  R"({"task":")" + deep + R"("})");
  REQUIRE(asked);
  INFO(asked->body);
  CHECK(asked->status == 500);
  CHECK_THAT(asked->body, Catch::Contains("too_large"));
  CHECK_THAT(asked->body, Catch::Contains(reason));

  // The agent is up, and its other task goes on working and checkpointing.
  CHECK(f.agents[0]->process().Running());
  const std::string state = f.controller->MachineState("agent-1");
  CHECK((state == "busy" || state == "ready"));
  const fs::path steady_ws = f.Workspace("agent-1", steady);
  const std::string count = ReadAll(steady_ws / "count");
  REQUIRE(WaitUntil([&] { return ReadAll(steady_ws / "count") != count; }, 10s));
  json::object made =
      f.Post("/v1/machines/agent-1/checkpoints", R"({"task":")" + steady + R"("})", 201);
  CHECK(made.at("checkpoints").as_array().size() == 1);
  std::ofstream(steady_ws / "stop") << "";
  REQUIRE(f.tasks->WaitState(steady, "succeeded", 15s));
  CHECK_THAT(f.tasks->Logs(steady), Catch::Contains("steady done"));
  CHECK(f.tasks->Task(deep).at("state") == "running");

  // The hostile task ends well too (its end's checkpoint fails like the others), and the agent
  // takes new work.
  std::ofstream(deep_ws / "stop") << "";
  REQUIRE(f.tasks->WaitState(deep, "succeeded", 30s));
  CHECK(f.CheckpointsOf(deep).empty());
  const std::string after = f.Run("agent-1", "echo after");
  REQUIRE(f.tasks->WaitState(after, "succeeded", 15s));
  CHECK(f.agents[0]->process().Running());
  // What the task left is taken apart here, where any depth can be.
  CHECK(std::system(("rm -rf '" + deep_ws.string() + "'").c_str()) == 0);
}
