// Hostile tasks on a real fleet (nats-server, controller, agent; tasks boxed by default), each
// trying one thing a task must not do. Each attempt fails, and the agent and the other tasks
// keep running.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"
#include "worker-agent/box/process_uids.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kEnvKey = "sk-ant-env-key-4f1c";
constexpr const char* kFileKey = "sk-ant-file-key-9d2e";
constexpr const char* kConfigSecret = "config-secret-77aa";
constexpr const char* kVictimEnv = "victim-env-secret-31b0";
constexpr const char* kVictimArg = "victim-cmdline-secret-58c6";
constexpr const char* kVictimFile = "victim-workspace-secret-a4e9";

void Write(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

// One agent with 8 slots, a key file and a config file, on a fleet of its own.
struct HostileFleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  ControllerProcess controller{dir / "controller", nats.url()};
  std::unique_ptr<AgentProcess> agent;
  TaskClient tasks{controller};

  // The agent's config and key file live in `config_dir` (else the fleet's own directory, which
  // no task can walk into); the config is written with `config_mode`.
  explicit HostileFleet(std::vector<std::string> extra_args = {},
                        const std::string& extra_toml = "", std::string config_dir = "",
                        mode_t config_mode = 0600) {
    if (config_dir.empty()) config_dir = dir.path();
    Write(config_dir + "/openai.key", kFileKey, 0600);
    Write(config_dir + "/agent.toml",
          std::string("# ") + kConfigSecret + "\ntask_slots = 8\n" + extra_toml +
              "[upstreams]\nanthropic = \"mock\"\nopenai = \"mock\"\n[meter]\nopenai_key_file = "
              "\"" +
              config_dir + "/openai.key\"\n",
          config_mode);
    std::vector<std::string> args = {"--config", config_dir + "/agent.toml"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(), args,
        std::map<std::string, std::string>{{"ANTHROPIC_API_KEY", kEnvKey}});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller.MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready" && agent->HoldsMachineId();
        },
        15s));
    tasks.CreateProject("alpha");
    tasks.CreateProject("beta");
  }

  std::string Workspace(const std::string& id) { return dir / "agent-1/workspaces/" + id; }

  // A beta task holding secrets in its environment, command line and workspace, running until
  // `stop` appears in its workspace.
  std::string StartVictim() {
    const std::string id =
        tasks.SubmitShell("beta",
                          {"sh", "-c",
                           std::string("echo ") + kVictimFile + " > victim.txt; : " + kVictimArg +
                               "; while [ ! -e stop ]; do sleep 0.05; done; cat victim.txt"},
                          {{"env", {{"VICTIM_SECRET", kVictimEnv}}}});
    REQUIRE(tasks.WaitState(id, "running"));
    REQUIRE(WaitUntil([&] { return fs::exists(Workspace(id) + "/victim.txt"); }, 10s));
    return id;
  }

  // What the victim's tool holds in its environment (its proxy token, the proxy's address), as
  // root reads it from /proc; and the user it runs as. A task cannot read either.
  std::string VictimEnv(const std::string& id, const std::string& name) {
    for (pid_t pid : ProcessesIn(Workspace(id))) {
      std::string value = ProcessEnv(pid, name);
      if (!value.empty()) return value;
    }
    return "";
  }
  pid_t VictimPid(const std::string& id) {
    const auto pids = ProcessesIn(Workspace(id));
    return pids.empty() ? 0 : pids.front();
  }

  // LLM calls charged to `project` in the controller's ledger.
  int64_t Calls(const std::string& project) {
    int64_t calls = 0;
    auto usage = controller.CallJson("GET", "/v1/usage?project=" + project);
    if (!usage) return -1;
    for (const auto& row : usage->at("rows").as_array())
      calls += row.at("calls").to_number<int64_t>();
    return calls;
  }

  // Runs an alpha task to its end (any end); returns its logs.
  std::string RunHostile(const std::string& script, json::object extra = {}) {
    const std::string id = tasks.SubmitShell("alpha", {"sh", "-c", script}, std::move(extra));
    REQUIRE(WaitUntil(
        [&] {
          const std::string s = tasks.State(id);
          return s == "succeeded" || s == "failed" || s == "cancelled";
        },
        60s));
    return tasks.Logs(id);
  }
};

void CheckNoSecret(const std::string& logs, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) CHECK_THAT(logs, !Catch::Contains(s));
}

// A messages call to `url` with `key`, printing "<label>=<http status>", in a task's shell.
std::string ShellCall(const std::string& label, const std::string& url, const std::string& key) {
  return "curl -s -o /dev/null -w '" + label + "=%{http_code}\\n' -X POST \"" + url +
         "/v1/messages\" -H \"x-api-key: " + key +
         "\" -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' -d "
         "'{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"messages\":[{\"role\":"
         "\"user\",\"content\":\"hi\"}]}'";
}

// The same call from the test's side, `as` (e.g. setpriv, nsenter) in front; the HTTP status.
std::string CallFromHere(std::vector<std::string> as, const std::string& url,
                         const std::string& key, const std::string& log) {
  as.insert(as.end(), {"sh", "-c", ShellCall("status", url, key)});
  ChildProcess curl(as, log);
  REQUIRE(curl.Wait(20s) == 0);
  return curl.Log();
}

// Setpriv's arguments that run what follows as `uid` (and its group, as a task user has).
std::vector<std::string> AsUser(uid_t uid) {
  const std::string id = std::to_string(uid);
  return {"setpriv", "--reuid", id, "--regid", id, "--clear-groups"};
}

// The proxy token of `victim` (a running beta task), read from its environment as root, is
// handed to an alpha task in its command: the proxy refuses it (401, as any unknown token), from
// the alpha task and from root alike, and charges beta nothing. The token is live all along:
// from the victim's own user (and, proxy-only, through its own listener) it is honoured.
void CheckStolenTokenRefused(HostileFleet& f, const std::string& victim, bool proxy_only) {
  const std::string token = f.VictimEnv(victim, "ANTHROPIC_API_KEY");
  const std::string url = f.VictimEnv(victim, "ANTHROPIC_BASE_URL");
  const pid_t victim_pid = f.VictimPid(victim);
  REQUIRE(token.size() >= 32);
  REQUIRE_FALSE(url.empty());
  const auto victim_uid = ProcessUid(victim_pid);
  REQUIRE(victim_uid);
  REQUIRE(*victim_uid >= 61000);

  // The stolen token first, then the task's own: once the own call is in alpha's ledger, a
  // charge to beta would be too (one outbox, in order).
  const std::string logs =
      f.RunHostile(ShellCall("stolen", "$ANTHROPIC_BASE_URL", token) + "; " +
                   ShellCall("own", "$ANTHROPIC_BASE_URL", "$ANTHROPIC_API_KEY"));
  INFO(logs);
  CHECK_THAT(logs, Catch::Contains("stolen=401"));
  CHECK_THAT(logs, Catch::Contains("own=200"));
  REQUIRE(WaitUntil([&] { return f.Calls("alpha") == 1; }, 10s));
  CHECK(f.Calls("beta") == 0);
  // The agent says whose token was refused; the task was told nothing of it.
  CHECK_THAT(f.agent->process().Log(),
             Catch::Contains("refused a call with the token of task " + victim));

  // Root on the host is no task either.
  CHECK_THAT(CallFromHere({}, url, token, f.dir / "root-call.log"), Catch::Contains("status=401"));

  // The victim itself may: the refusals were the binding's, and beta is charged then.
  std::vector<std::string> as_victim = AsUser(*victim_uid);
  if (proxy_only) {
    // Its own listener is in its own network namespace.
    as_victim.insert(as_victim.begin(),
                     {"nsenter", "--net=/proc/" + std::to_string(victim_pid) + "/ns/net"});
  }
  CHECK_THAT(CallFromHere(as_victim, url, token, f.dir / "victim-call.log"),
             Catch::Contains("status=200"));
  CHECK(WaitUntil([&] { return f.Calls("beta") == 1; }, 10s));
}

}  // namespace

TEST_CASE(
    "hostile tasks cannot reach the agent, the controller or another task, and the "
    "fleet goes on",
    "[box]") {
  HostileFleet f;
  const pid_t agent_pid = f.agent->process().pid();
  const std::string admin_token = f.controller.token();
  const std::string victim = f.StartVictim();
  const std::vector<std::string> secrets = {kEnvKey,    kFileKey,   kConfigSecret, admin_token,
                                            kVictimEnv, kVictimArg, kVictimFile};
  const std::string pid = std::to_string(agent_pid);

  SECTION("the agent's environment, config and key files") {
    const std::string logs =
        f.RunHostile("cat /proc/" + pid + "/environ; cat /proc/*/environ; cat " +
                     f.dir / "agent.toml" + "; cat " + f.dir / "openai.key" + "; cat " +
                     f.dir / "agent-1/machine_id" + "; ls /proc | grep -c '^[0-9]'; echo tried");
    INFO(logs);
    CHECK_THAT(logs, Catch::Contains("tried"));
    CheckNoSecret(logs, secrets);
    CHECK_THAT(logs, Catch::Contains("/proc/" + pid + "/environ: No such file"));
    CHECK_THAT(logs, Catch::Contains("agent.toml: No such file"));
    // The agent's own copy of its environment no longer holds the key either.
    std::ifstream environ("/proc/" + pid + "/environ");
    const std::string env((std::istreambuf_iterator<char>(environ)), {});
    CHECK_THAT(env, Catch::Contains("ANTHROPIC_API_KEY="));
    CHECK_THAT(env, !Catch::Contains(kEnvKey));
  }
  SECTION("the controller's admin token") {
    const std::string logs =
        f.RunHostile("cat " + f.dir / "controller/admin.token" + "; echo tried");
    INFO(logs);
    CHECK_THAT(logs, Catch::Contains("tried"));
    CheckNoSecret(logs, secrets);
  }
  SECTION("another task's environment, command line and workspace") {
    const std::string logs = f.RunHostile(
        "for p in /proc/[0-9]*; do cat $p/environ $p/cmdline; done 2>&1 | tr '\\0' ' '; cat " +
        f.Workspace(victim) + "/victim.txt; ls " + f.dir / "agent-1/workspaces" + "; echo tried");
    INFO(logs);
    CHECK_THAT(logs, Catch::Contains("tried"));
    CheckNoSecret(logs, secrets);
  }
  SECTION("the metering proxy, with the other task's token") {
    CheckStolenTokenRefused(f, victim, false);
  }
  SECTION("signalling the agent and the other task") {
    const std::string logs = f.RunHostile("kill -9 " + pid + " -1; kill -9 -1; echo tried");
    INFO(logs);
    CHECK_THAT(logs, Catch::Contains("tried"));
  }
  SECTION("a fork bomb ends only itself") {
    const std::string id = f.tasks.SubmitShell(
        "alpha", {"sh", "-c", "b() { b | b & }; b; sleep 3; echo bombed"}, {{"timeout_s", 20}});
    REQUIRE(WaitUntil(
        [&] {
          const std::string s = f.tasks.State(id);
          return s == "succeeded" || s == "failed";
        },
        40s));
    INFO(f.tasks.Logs(id));
  }
  SECTION("allocating past its memory limit") {
    const std::string logs = f.RunHostile(
        "python3 -c 'b = bytearray(6 << 30); print(\"allocated\", len(b))'; echo exit=$?");
    INFO(logs);
    CHECK_THAT(logs, Catch::Contains("MemoryError"));
    CHECK_THAT(logs, !Catch::Contains("allocated"));
    CHECK_THAT(logs, Catch::Contains("exit=1"));
  }
  SECTION("a daemon left behind dies with its task") {
    // One in a session of its own, one double-forked, one that keeps the task's output open.
    const std::string logs = f.RunHostile(
        "id -u; setsid sleep 1000 </dev/null >/dev/null 2>&1 & (sleep 1001 &); "
        "nohup sleep 1002 & echo left");
    INFO(logs);
    REQUIRE_THAT(logs, Catch::Contains("left"));
    const uid_t uid = static_cast<uid_t>(std::stoul(logs));
    CHECK(uid >= 61000);
    // By the time the task is seen to end, nothing of its user runs any more...
    CHECK(autovibe::box::UidsWithProcesses(uid, 1).empty());
    // ...and its user is lent again.
    const std::string next = f.RunHostile("id -u");
    CHECK(static_cast<uid_t>(std::stoul(next)) == uid);
  }

  // Whatever was tried, the agent, its machine and the other task are fine.
  CHECK(f.agent->process().Running());
  CHECK(f.controller.MachineState("agent-1") != "lost");
  CHECK(f.tasks.State(victim) == "running");
  std::ofstream(f.Workspace(victim) + "/stop").put('x');
  REQUIRE(f.tasks.WaitState(victim, "succeeded"));
  CHECK_THAT(f.tasks.Logs(victim), Catch::Contains(kVictimFile));
  // And the next task runs as usual.
  const std::string next = f.tasks.SubmitShell("alpha", {"sh", "-c", "id -u"});
  REQUIRE(f.tasks.WaitState(next, "succeeded"));
  CHECK(std::stoi(f.tasks.Logs(next)) >= 61000);
}

// A directory under /etc (which every box sees, read-only), removed at the end.
struct EtcDir {
  std::string path = "/etc/autovibe-test-" + std::to_string(getpid());
  EtcDir() {
    fs::remove_all(path);
    fs::create_directory(path);
    chmod(path.c_str(), 0755);
  }
  ~EtcDir() { fs::remove_all(path); }
};

TEST_CASE("the agent's config and key files are hidden where a task sees their directory",
          "[box]") {
  // The usual layout (/etc/autovibe), with a config file any user could read: only the box's
  // mask keeps it from a task.
  EtcDir etc;
  Write(etc.path + "/visible.txt", "not a secret\n", 0644);
  HostileFleet f({}, "", etc.path, 0644);
  const std::string logs = f.RunHostile("cat " + etc.path + "/visible.txt; cat " + etc.path +
                                        "/agent.toml " + etc.path + "/openai.key; echo tried");
  INFO(logs);
  CHECK_THAT(logs, Catch::Contains("not a secret"));  // the directory is there
  CHECK_THAT(logs, Catch::Contains("tried"));
  CheckNoSecret(logs, {kConfigSecret, kFileKey, kEnvKey});
  CHECK(f.agent->process().Running());
}

TEST_CASE("a proxy-only task reaches the metering proxy and nothing else", "[box]") {
  HostileFleet f({"--network", "proxy-only"});
  const std::string port = std::to_string(f.controller.port());
  const std::string logs = f.RunHostile(
      "curl -s -o /dev/null -w 'proxy=%{http_code}\\n' \"$ANTHROPIC_BASE_URL/\"; "
      "curl -s -w '\\n' -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: "
      "$ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' -H 'content-type: "
      "application/json' -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"messages\":"
      "[{\"role\":\"user\",\"content\":\"hi\"}]}'; "
      "curl -s -m 3 -o /dev/null -w 'controller=%{http_code}\\n' http://127.0.0.1:" +
      port + "/healthz; echo curl_exit=$?; cat /proc/net/tcp | wc -l");
  INFO(logs);
  CHECK_THAT(logs, Catch::Contains("proxy=200"));
  CHECK_THAT(logs, Catch::Contains("canned reply"));  // metered, from the mock upstream
  CHECK_THAT(logs, Catch::Contains("controller=000"));
  CHECK_THAT(logs, !Catch::Contains("curl_exit=0"));
  // The call was metered and charged to the task's project.
  REQUIRE(WaitUntil(
      [&] {
        auto u = f.controller.CallJson("GET", "/v1/usage?project=alpha&group_by=model");
        return u && json::serialize(*u).find("claude-sonnet-4-5") != std::string::npos;
      },
      10s));
}

TEST_CASE("a proxy-only task cannot call the metering proxy with another task's token", "[box]") {
  HostileFleet f({"--network", "proxy-only"});
  const std::string victim = f.StartVictim();
  CheckStolenTokenRefused(f, victim, true);
  std::ofstream(f.Workspace(victim) + "/stop").put('x');
  REQUIRE(f.tasks.WaitState(victim, "succeeded"));
}

TEST_CASE("a task_user = \"root\" agent runs its tasks as root, unboxed, and says so", "[box]") {
  HostileFleet f({"--task-user", "root"});
  const std::string logs = f.RunHostile("id -u; cat " + f.dir / "agent.toml");
  INFO(logs);
  CHECK_THAT(logs, Catch::StartsWith("0\n"));
  // Trusted work: it reads what root reads (README.md says so).
  CHECK_THAT(logs, Catch::Contains(kConfigSecret));
  CHECK_THAT(f.agent->process().Log(), Catch::Contains("unboxed (task_user = \"root\")"));
}
