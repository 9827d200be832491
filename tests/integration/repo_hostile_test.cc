// Repository tasks against a hostile task (issue 18's review): what the task leaves in its
// workspace is read by the agent, as root, into the result the controller serves. Real
// nats-server, controller and boxed agent; repositories on the local disk.
//
// Each test is an attack a review tried; those marked "Was open" found a problem, since fixed.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/run_program.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/shell.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// One agent, a controller allowing the repositories under `git`, and two repositories there:
// `origin` (the attacker's project) and `secret` (another team's, with a commit of its own).
struct HostileFleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::string git = dir / "git";
  std::string origin = git + "/origin.git";
  std::string secret = git + "/secret.git";
  std::string agent_dir = dir / "agent-1";
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<TaskClient> tasks;
  std::unique_ptr<AgentProcess> agent;

  HostileFleet() {
    fs::create_directories(git);
    for (const auto& [name, file] : {std::pair{"origin", "calc.sh"}, {"secret", "plans.txt"}}) {
      Sh("set -e; cd " + git + " && git init -q -b main " + name + "-work && cd " + name +
         "-work && git config user.email dev@example.org && git config user.name Dev && echo " +
         name + " > " + file + " && git add . && git commit -qm " + name +
         " && git clone -q --bare . " + git + "/" + name + ".git");
    }
    std::ofstream(dir / "controller.toml") << "repo_local_roots = [\"" << git << "\"]\n";
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--config", dir / "controller.toml", "--heartbeat-interval",
                                 "200ms", "--heartbeat-ttl", "2s"});
    tasks = std::make_unique<TaskClient>(*controller);
    agent = std::make_unique<AgentProcess>("agent-1", agent_dir, nats.url());
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready" && agent->HoldsMachineId();
        },
        60s));
    tasks->CreateProject("demo");
    tasks->CreateProject("other");
  }

  std::string Head(const std::string& repo) {
    return Sh("git --git-dir=" + repo + " rev-parse main");
  }

  std::string Submit(const std::string& project, const std::string& script,
                     const std::string& url) {
    return tasks->SubmitShell(project, {"sh", "-c", script},
                              json::object{{"repo", json::object{{"url", url}}}});
  }

  json::object Change(const std::string& id) {
    auto t = tasks->Task(id);
    auto* c = t.if_contains("change");
    return c != nullptr && c->is_object() ? c->as_object() : json::object{};
  }

  // The diff the controller serves for the task, once it keeps it.
  std::string Diff(const std::string& id) {
    REQUIRE(WaitUntil(
        [&] {
          auto c = Change(id);
          return c.contains("stored") && c.at("stored").as_bool();
        },
        20s));
    auto diff = controller->Call("GET", "/v1/tasks/" + id + "/diff");
    REQUIRE(diff);
    REQUIRE(diff->status == 200);
    return diff->body;
  }

  // The agent's mirror of `url` (after a task fetched it).
  std::string MirrorOf(const std::string& url) {
    const std::string want = Sh("git --git-dir=" + url + " rev-parse main");
    for (const auto& e : fs::directory_iterator(agent_dir + "/repos/mirrors")) {
      if (e.path().extension() != ".git") continue;
      if (Sh("git --git-dir=" + e.path().string() + " rev-parse main 2>/dev/null || true") ==
          want) {
        return e.path();
      }
    }
    FAIL("no mirror of " << url);
    return "";
  }
};

}  // namespace

// Was open (fixed: new gitlinks are left out of the result). The harvest runs `git add --all` as
// root with the agent's git dir over the workspace. A directory holding a `.git` *file* ("gitdir:
// <any path>") is added as a gitlink, and git resolves it by reading HEAD of whatever repository
// that path names, on the host, as root. The task thus learns (in its own diff, served by the
// controller) the current commit of any repository on the machine: another team's mirror under
// <data>/repos/mirrors (its name is the hash of its URL), another task's workspace. Only a commit
// id leaks, but across tenants, and it shows the agent reading outside the workspace on the task's
// say-so.
TEST_CASE(
    "a task cannot make the agent read another repository on the machine into its result "
    "through a gitlink",
    "[repo]") {
  HostileFleet f;
  // Another team's task brings its private repository into the machine's mirror.
  const std::string other = f.Submit("other", "cat plans.txt", f.secret);
  REQUIRE(f.tasks->WaitState(other, "succeeded", 60s));
  const std::string secret_head = f.Head(f.secret);
  const std::string mirror = f.MirrorOf(f.secret);

  const std::string id =
      f.Submit("demo",
               "set -e; echo change >> calc.sh; mkdir peek; printf 'gitdir: " + mirror +
                   "\\n' > peek/.git; mkdir peek2; printf 'gitdir: " + f.agent_dir +
                   "/workspaces/" + other + "/.git\\n' > peek2/.git",
               f.origin);
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  const std::string diff = f.Diff(id);
  INFO(diff);
  CHECK(diff.find("+change") != std::string::npos);
  CHECK(diff.find(secret_head) == std::string::npos);
}

// Was open (fixed: files are checked by size before any is read). A task ends with a sparse file of
// a terabyte in its workspace (instant to make, no disk used). The harvest's `git add` reads and
// hashes all of it as root, outside the task's cgroup and time limit, for up to git's 10 minute
// timeout, holding one of the RepoKeeper's two threads (two such tasks stall every repository
// checkout on the machine), and nothing bills that time. The agent should refuse a result with
// files over a size limit before hashing.
TEST_CASE("a huge sparse file in the workspace does not hold the agent's harvest for minutes",
          "[repo]") {
  HostileFleet f;
  const std::string id =
      f.Submit("demo", "set -e; echo change >> calc.sh; truncate -s 1T big.bin", f.origin);
  const auto started = std::chrono::steady_clock::now();
  CHECK(WaitUntil(
      [&] {
        const std::string s = f.tasks->State(id);
        return s == "succeeded" || s == "failed";
      },
      120s));
  INFO(json::serialize(f.tasks->Task(id)));
  CHECK(std::chrono::steady_clock::now() - started < 120s);
  // Refused with the reason, before a byte of it was read.
  CHECK(f.tasks->State(id) == "failed");
  CHECK(Str(f.tasks->Task(id).at("reason"))
            .find("big.bin is 1099511627776 bytes, over the agent's "
                  "limit") != std::string::npos);
}

TEST_CASE(
    "what a task leaves in its workspace never brings a file from outside it into its result: "
    "symlinks, a hard link, a FIFO, a nested .git directory, a junk base file",
    "[repo]") {
  HostileFleet f;
  const std::string secret_head = f.Head(f.secret);
  const std::string other = f.Submit("other", "cat plans.txt", f.secret);
  REQUIRE(f.tasks->WaitState(other, "succeeded", 60s));
  const std::string mirror = f.MirrorOf(f.secret);
  // The agent's own secrets, by content.
  const std::string shadow_line = Sh("head -c 12 /etc/shadow");
  const std::string id =
      f.Submit("demo",
               "set -e; echo change >> calc.sh; ln -s /etc/shadow shadow; ln -s " + f.agent_dir +
                   " agentdata; ln -s " + mirror +
                   "/HEAD mirror-head; mkfifo fifo; "
                   "ln .git/objects/pack/*.pack linked.pack 2>/dev/null || true; "
                   "mkdir -p deep/.git/refs/heads deep/.git/objects; ln -s " +
                   mirror + "/HEAD deep/.git/HEAD; ln -s " + mirror +
                   "/refs/heads/main deep/.git/refs/heads/main; "
                   "printf 'ref: ../../../../etc/shadow\\n' > .git/autovibe-base",
               f.origin);
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  json::object c = f.Change(id);
  INFO(json::serialize(c));
  CHECK(Str(c.at("base")) == f.Head(f.origin));  // the junk base file was not believed
  const std::string diff = f.Diff(id);
  INFO(diff);
  CHECK(diff.find("+change") != std::string::npos);
  // Symlinks are results as links (their target's name), never the target's content.
  CHECK(diff.find("new file mode 120000") != std::string::npos);
  if (!shadow_line.empty()) CHECK(diff.find(shadow_line) == std::string::npos);
  CHECK(diff.find(secret_head) == std::string::npos);
  CHECK(diff.find("fifo") == std::string::npos);
  // The bundle holds nothing from the other team's repository.
  auto bundle = f.controller->Call("GET", "/v1/tasks/" + id + "/bundle");
  REQUIRE(bundle);
  REQUIRE(bundle->status == 200);
  CHECK(bundle->body.find(secret_head) == std::string::npos);
  // The mirror of the other team's repository is unchanged.
  CHECK(Sh("git --git-dir=" + mirror + " rev-parse main") == secret_head);
}

TEST_CASE(
    "a project's default repository may not name a local path outside the controller's "
    "allowed roots",
    "[repo]") {
  HostileFleet f;
  for (const std::string& url : std::vector<std::string>{
           f.agent_dir + "/repos/mirrors", "file://" + f.agent_dir + "/repos/mirrors",
           f.git + "/../agent-1/repos", "file://" + f.git + "/../agent-1", std::string("/etc"),
           f.git + "x/origin.git"}) {
    auto r =
        f.controller->Call("PATCH", "/v1/projects/demo", std::nullopt,
                           json::serialize(json::object{{"repo", json::object{{"url", url}}}}));
    REQUIRE(r);
    INFO(url << " -> " << r->status << " " << r->body);
    CHECK(r->status == 400);
  }
  // Nothing changed: the project still has no repository.
  CHECK(json::serialize(f.controller->GetJson("/v1/projects/demo")).find("agent-1") ==
        std::string::npos);
}
