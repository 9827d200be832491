// Repository tasks end to end: a real nats-server, controller and boxed agents, git
// repositories on the local disk (the controller allows their root), real git in the tools.
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/core/run_program.h"
#include "tests/fakes/fake_forge.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/shell.h"
#include "tests/support/sshd.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "ghp-REPO-SECRET-3b1f9c2e7a";

std::string Str(const json::value& v) { return std::string(v.as_string()); }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Whether any file under `root` (not following links) holds `needle`.
std::string FileHolding(const fs::path& root, const std::string& needle) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return "";
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec) &&
        Slurp(it->path()).find(needle) != std::string::npos) {
      return it->path();
    }
  }
  return "";
}

struct RepoFleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::string git = dir / "git";  // the repositories tasks may name
  std::string origin = git + "/origin.git";
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<TaskClient> tasks;
  std::vector<std::unique_ptr<AgentProcess>> agents;

  explicit RepoFleet(int n = 1, const std::string& controller_config = "") {
    fs::create_directories(git);
    // A project with a bug and a test that shows it.
    Sh("set -e; cd " + git +
       " && git init -q -b main work && cd work && "
       "git config user.email dev@example.org && git config user.name Dev && "
       "printf 'add() { echo $(($1 - $2)); }\\n' > calc.sh && "
       "printf '. ./calc.sh; [ \"$(add 2 3)\" = 5 ] && echo PASS || { echo FAIL; exit 1; }\\n' "
       "> test.sh && git add . && git commit -qm 'calc with a test' && "
       "echo '# demo' > README.md && git add . && git commit -qm readme && "
       "git clone -q --bare . " +
       origin);
    std::ofstream(dir / "controller.toml") << "repo_local_roots = [\"" << git << "\"]\n"
                                           << controller_config;
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--config", dir / "controller.toml", "--heartbeat-interval",
                                 "200ms", "--heartbeat-ttl", "2s"});
    tasks = std::make_unique<TaskClient>(*controller);
    for (int i = 1; i <= n; ++i) {
      const std::string name = "agent-" + std::to_string(i);
      agents.push_back(std::make_unique<AgentProcess>(
          name, dir / name, nats.url(), std::vector<std::string>{"--label", "box=" + name}));
    }
    REQUIRE(WaitUntil(
        [&] {
          for (auto& a : agents) {
            auto m = controller->MachineByName(a->name());
            if (!m || m->at("state").as_string() != "ready" || !a->HoldsMachineId()) return false;
          }
          return true;
        },
        60s));
    tasks->CreateProject("demo");
  }

  std::string OriginHead() { return Sh("git --git-dir=" + origin + " rev-parse main"); }

  std::string Submit(const std::string& script, json::object repo, std::string agent = "") {
    json::object extra{{"repo", std::move(repo)}, {"title", "fix add"}};
    if (!agent.empty()) extra["labels"] = json::object{{"box", agent}};
    return tasks->SubmitShell("demo", {"sh", "-c", script}, std::move(extra));
  }

  json::object Change(const std::string& id) {
    auto t = tasks->Task(id);
    auto* c = t.if_contains("change");
    return c != nullptr && c->is_object() ? c->as_object() : json::object{};
  }

  bool Stored(const std::string& id) {
    auto c = Change(id);
    return c.contains("stored") && c.at("stored").as_bool();
  }

  Result<HttpReply> Get(const std::string& path) { return controller->Call("GET", path); }
};

const std::string kFix = "sed -i 's/\\$1 - \\$2/$1 + $2/' calc.sh";

}  // namespace

TEST_CASE(
    "a repository task's workspace is a checkout of the ref, and its change comes back "
    "as a commit, a diff and a bundle the user can fetch") {
  RepoFleet f;
  const std::string base = f.OriginHead();
  const std::string id =
      f.Submit("set -e; test \"$(git rev-parse HEAD)\" = " + base +
                   "; git status --porcelain | wc -l > /dev/null; git log --oneline | wc -l; " +
                   kFix + "; sh test.sh",
               {{"url", f.origin}, {"ref", "main"}, {"author", "Ada Lovelace <ada@example.org>"}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  const std::string logs = f.tasks->Logs(id);
  INFO(logs);
  CHECK(logs.find("PASS") != std::string::npos);

  json::object c = f.Change(id);
  INFO(json::serialize(c));
  CHECK(Str(c.at("base")) == base);
  CHECK(Str(c.at("branch")) == "autovibe/" + id);
  CHECK(c.at("files_changed").as_int64() == 1);
  CHECK(c.at("insertions").as_int64() == 1);
  CHECK(c.at("deletions").as_int64() == 1);
  const std::string head = Str(c.at("head"));
  REQUIRE(head.size() == 40);

  // The controller keeps the result: the diff and the bundle.
  REQUIRE(WaitUntil([&] { return f.Stored(id); }, 20s));
  auto diff = f.Get("/v1/tasks/" + id + "/diff");
  REQUIRE(diff);
  REQUIRE(diff->status == 200);
  CHECK(diff->body.find("+add() { echo $(($1 + $2)); }") != std::string::npos);
  CHECK(diff->body.find("-add() { echo $(($1 - $2)); }") != std::string::npos);
  auto bundle = f.Get("/v1/tasks/" + id + "/bundle");
  REQUIRE(bundle);
  REQUIRE(bundle->status == 200);
  std::ofstream(f.dir / "change.bundle", std::ios::binary) << bundle->body;

  // Fetched into a fresh clone, the branch makes the test pass there.
  const std::string clone = f.dir / "clone";
  Sh("git clone -q " + f.origin + " " + clone);
  Sh("cd " + clone + " && git fetch -q " + std::string(f.dir / "change.bundle") +
     " refs/heads/autovibe/" + id + ":refs/heads/fix && git checkout -q fix");
  CHECK(Sh("cd " + clone + " && git rev-parse HEAD") == head);
  CHECK(Sh("cd " + clone + " && git rev-parse HEAD^") == base);
  CHECK(Sh("cd " + clone + " && sh test.sh") == "PASS");
  CHECK(Sh("cd " + clone + " && git log -1 --format=%s") == "fix add");
  CHECK(Sh("cd " + clone + " && git log -1 --format='%an <%ae>|%cn <%ce>'") ==
        "Ada Lovelace <ada@example.org>|Ada Lovelace <ada@example.org>");

  // Nothing was published: publish defaults to none.
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list 'autovibe/*'").empty());
  // The stat is there too.
  auto stat = f.controller->GetJson("/v1/tasks/" + id + "/diff?stat=1");
  CHECK(stat.at("files_changed").as_int64() == 1);
}

TEST_CASE(
    "with a review gate nothing reaches the remote until approved, a rejected change is "
    "never pushed") {
  RepoFleet f;
  json::object repo{{"url", f.origin}, {"publish", "push"}, {"review", true}};
  const std::string a = f.Submit(kFix, repo);
  const std::string b = f.Submit("echo more >> README.md", repo);
  REQUIRE(f.tasks->WaitState(a, "awaiting_review", 60s));
  REQUIRE(f.tasks->WaitState(b, "awaiting_review", 60s));
  REQUIRE(WaitUntil([&] { return f.Stored(a) && f.Stored(b); }, 20s));
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list 'autovibe/*'").empty());

  auto rejected = f.controller->Call("POST", "/v1/tasks/" + b + "/reject", std::nullopt,
                                     R"({"reason":"not this one"})");
  REQUIRE(rejected);
  CHECK(rejected->status == 200);
  CHECK(f.tasks->State(b) == "rejected");
  auto approved = f.controller->Call("POST", "/v1/tasks/" + a + "/approve");
  REQUIRE(approved);
  CHECK(approved->status == 200);
  REQUIRE(WaitUntil([&] { return Str(f.Change(a).at("published")) == "pushed"; }, 30s));
  CHECK(f.tasks->State(a) == "succeeded");
  CHECK(Sh("git --git-dir=" + f.origin + " rev-parse autovibe/" + a) ==
        Str(f.Change(a).at("head")));
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list autovibe/" + b).empty());
  // Approving twice, or a rejected task, is a conflict.
  auto again = f.controller->Call("POST", "/v1/tasks/" + a + "/approve");
  REQUIRE(again);
  CHECK(again->status == 409);
  auto late = f.controller->Call("POST", "/v1/tasks/" + b + "/approve");
  REQUIRE(late);
  CHECK(late->status == 409);
}

TEST_CASE(
    "a repository that cannot be had fails its task with repo_unavailable and leaves "
    "nothing behind, hostile addresses are refused at submission") {
  RepoFleet f;
  const std::string missing_ref = f.Submit("true", {{"url", f.origin}, {"ref", "no-such-branch"}});
  const std::string missing_repo = f.Submit("true", {{"url", f.git + "/nothing-here.git"}});
  // Nobody listens there.
  const std::string unreachable =
      f.Submit("true", {{"url", "git://127.0.0.1:" + std::to_string(FreePort()) + "/r.git"}});
  for (const std::string& id : {missing_ref, missing_repo, unreachable}) {
    REQUIRE(f.tasks->WaitState(id, "failed", 60s));
    auto t = f.tasks->Task(id);
    INFO(json::serialize(t));
    CHECK(Str(t.at("reason")).starts_with("repo_unavailable: "));
    CHECK(t.at("attempts").as_int64() == 1);
    CHECK_FALSE(fs::exists(fs::path(f.dir / "agent-1") / "workspaces" / id));
  }
  CHECK(Str(f.tasks->Task(missing_ref).at("reason")).find("no-such-branch") != std::string::npos);
  CHECK(Str(f.tasks->Task(unreachable).at("reason")).find("127.0.0.1") != std::string::npos);
  // No half-made mirror: only the good repository's.
  size_t mirrors = 0;
  for (const auto& e : fs::directory_iterator(fs::path(f.dir / "agent-1") / "repos" / "mirrors")) {
    if (e.path().extension() == ".git") ++mirrors;
    CHECK(e.path().filename().string().find(".new-") == std::string::npos);
  }
  CHECK(mirrors == 1);
  // A later task on the good repository is not poisoned by the failures.
  const std::string ok = f.Submit("sh test.sh || true", {{"url", f.origin}});
  CHECK(f.tasks->WaitState(ok, "succeeded", 60s));

  for (const std::string url :
       {"ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/pwned", "-oProxyCommand=x",
        "fd::17", "/etc/../root/x.git", "/root/elsewhere.git", "file:///root/elsewhere.git",
        "https://user:pw@example.org/r.git", "ssh://-oProxyCommand=x/r", "relative/path"}) {
    json::object body{{"project", "demo"},
                      {"tool", "shell"},
                      {"command", json::array{"true"}},
                      {"repo", json::object{{"url", url}}}};
    auto r = f.controller->Call("POST", "/v1/tasks", std::nullopt, json::serialize(body));
    REQUIRE(r);
    INFO(url << " -> " << r->status << " " << r->body);
    CHECK(r->status == 400);
  }
  for (const std::string ref : {"--orphan", "a..b", "x y", "HEAD@{1}"}) {
    json::object body{{"project", "demo"},
                      {"tool", "shell"},
                      {"command", json::array{"true"}},
                      {"repo", json::object{{"url", f.origin}, {"ref", ref}}}};
    auto r = f.controller->Call("POST", "/v1/tasks", std::nullopt, json::serialize(body));
    REQUIRE(r);
    INFO(ref << " -> " << r->body);
    CHECK(r->status == 400);
  }
  CHECK_FALSE(fs::exists("/tmp/pwned"));
}

TEST_CASE(
    "a task cannot write the history its checkout shares with the mirror, and the "
    "repository's secret never reaches the task") {
  RepoFleet f;
  auto put = f.controller->Call("PUT", "/v1/secrets/origin-token", std::nullopt,
                                json::serialize(json::object{{"value", kSecret}}));
  REQUIRE(put);
  REQUIRE(put->status / 100 == 2);
  // The hostile task tries to rewrite every pack it was given and records what it sees.
  const std::string id = f.Submit(
      "env > env.txt; cat .git/config > config.txt; n=0; "
      "for p in $(find .git/objects -type f ! -user $(id -u)); do n=$((n+1)); "
      "chmod u+w \"$p\" 2>/dev/null; printf junk >> \"$p\" 2>/dev/null && echo WROTE; "
      "done; echo \"shared=$n\"",
      {{"url", f.origin}, {"secret", "origin-token"}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  const std::string logs = f.tasks->Logs(id);
  INFO(logs);
  CHECK(logs.find("WROTE") == std::string::npos);
  // It was given the history (hard links it does not own), and could write none of it.
  CHECK(logs.find("shared=0") == std::string::npos);
  CHECK(logs.find("shared=") != std::string::npos);
  // The mirror is whole: the next task checks out fine.
  const std::string next = f.Submit("sh test.sh | grep -q FAIL", {{"url", f.origin}});
  CHECK(f.tasks->WaitState(next, "succeeded", 60s));
  CHECK(Sh("git --git-dir=" + std::string(f.dir / "agent-1/repos/mirrors") + "/$(ls " +
           std::string(f.dir / "agent-1/repos/mirrors") +
           " | grep '.git$' | head -1) fsck --no-progress 2>&1; echo rc=$?")
            .ends_with("rc=0"));
  // The secret is nowhere the task, its logs or its result could show it.
  const fs::path ws = fs::path(f.dir / "agent-1") / "workspaces" / id;
  CHECK(FileHolding(ws, kSecret).empty());
  CHECK(logs.find(kSecret) == std::string::npos);
  CHECK(json::serialize(f.tasks->Task(id)).find(kSecret) == std::string::npos);
  CHECK(FileHolding(fs::path(f.dir / "agent-1") / "checkpoints", kSecret).empty());
  CHECK(FileHolding(fs::path(f.dir / "agent-1") / "repos", kSecret).empty());
  // Nowhere on the agent's disk at all (its outbox, logs, homes), nor in the controller's
  // database and events: only in its secrets.
  CHECK(FileHolding(fs::path(f.dir / "agent-1"), kSecret).empty());
  CHECK(Slurp(f.dir / "agent-1.log").find(kSecret) == std::string::npos);
  for (const auto& e : fs::directory_iterator(f.dir.path())) {
    if (e.path().filename().string().starts_with("controller-")) {
      CHECK(Slurp(e.path()).find(kSecret) == std::string::npos);
    }
  }
  const std::string held = FileHolding(fs::path(f.dir / "controller"), kSecret);
  CHECK(held.find("/secrets/") != std::string::npos);
  for (const auto& e : fs::directory_iterator(fs::path(f.dir / "controller"))) {
    if (e.path().filename() != "secrets") {
      INFO(e.path());
      CHECK(FileHolding(e.path(), kSecret).empty());
    }
  }
  auto listed = f.Get("/v1/secrets");
  REQUIRE(listed);
  CHECK(listed->body.find(kSecret) == std::string::npos);
}

TEST_CASE(
    "a repository task's checkpoint restores as a working repository on a machine that "
    "never saw the repository") {
  RepoFleet f(2);
  const std::string a =
      f.Submit(kFix + " && git add -A && git -c user.email=t@t -c user.name=t commit -qm fix",
               {{"url", f.origin}}, "agent-1");
  REQUIRE(f.tasks->WaitState(a, "succeeded", 60s));
  json::array cps;
  REQUIRE(WaitUntil(
      [&] {
        cps = f.controller->GetJson("/v1/checkpoints?task=" + a).at("checkpoints").as_array();
        return !cps.empty();
      },
      20s));
  const std::string cp = Str(cps.back().at("id"));
  json::object body{{"project", "demo"},
                    {"tool", "shell"},
                    {"command", json::array{"sh", "-c",
                                            "set -e; git status --porcelain; git log --format=%s; "
                                            "git fsck --no-progress; sh test.sh"}},
                    {"labels", json::object{{"box", "agent-2"}}},
                    {"from_checkpoint", cp}};
  const std::string b = f.tasks->Submit(std::move(body));
  REQUIRE(f.tasks->WaitState(b, "succeeded", 60s));
  const std::string logs = f.tasks->Logs(b);
  INFO(logs);
  CHECK(logs.find("fix\ncalc with a test") == std::string::npos);  // newest first
  CHECK(logs.find("fix\nreadme\ncalc with a test") != std::string::npos);
  CHECK(logs.find("PASS") != std::string::npos);
  CHECK_FALSE(fs::exists(fs::path(f.dir / "agent-2") / "repos" / "mirrors"));
}

TEST_CASE(
    "the next task on a repository starts from a spare checkout made ahead: a clean checkout "
    "of its base whatever the task before did, its shared history still out of reach") {
  RepoFleet f;
  const std::string base = f.OriginHead();
  // The first task spoils what it can: its files, its index, its history.
  const std::string a = f.Submit(
      "echo junk >> calc.sh; echo new > new.txt; git add -A; rm -f .git/index; "
      "for p in $(find .git/objects -type f); do printf junk >> \"$p\" 2>/dev/null; done; true",
      {{"url", f.origin}});
  REQUIRE(f.tasks->WaitState(a, "succeeded", 60s));
  const fs::path agent = f.dir / "agent-1";
  REQUIRE(WaitUntil(
      [&] { return f.agents[0]->process().Log().find("spare checkout at") != std::string::npos; },
      60s));
  std::string spare;
  for (const auto& e : fs::directory_iterator(agent / "repos" / "spares")) {
    if (fs::is_directory(e.path()) && e.path().filename() != "trash") spare = e.path();
  }
  REQUIRE_FALSE(spare.empty());
  struct stat before {};
  REQUIRE(stat((spare + "/test.sh").c_str(), &before) == 0);

  const std::string b = f.Submit(
      "set -e; test \"$(git rev-parse HEAD)\" = " + base +
          "; echo branch=$(git symbolic-ref --short HEAD); echo dirty=$(git status --porcelain | "
          "wc -l); echo origin=$(git remote get-url origin); n=0; "
          "for p in $(find .git/objects -type f ! -user $(id -u)); do n=$((n+1)); "
          "printf junk >> \"$p\" 2>/dev/null && echo WROTE; done; echo shared=$n; "
          "sh test.sh || true",
      {{"url", f.origin}});
  REQUIRE(f.tasks->WaitState(b, "succeeded", 60s));
  const std::string logs = f.tasks->Logs(b);
  INFO(logs);
  CHECK(logs.find("branch=autovibe/" + b + "\n") != std::string::npos);
  CHECK(logs.find("dirty=0\n") != std::string::npos);
  CHECK(logs.find("origin=" + f.origin + "\n") != std::string::npos);
  CHECK(logs.find("WROTE") == std::string::npos);
  CHECK(logs.find("shared=0") == std::string::npos);
  CHECK(logs.find("FAIL") != std::string::npos);  // the repository's own test, unspoilt
  // It was the spare: its files, moved in, not written again.
  struct stat after {};
  REQUIRE(stat((agent / "workspaces" / b / "test.sh").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(Sh("git --git-dir=" + std::string(agent / "repos/mirrors") + "/$(ls " +
           std::string(agent / "repos/mirrors") + " | grep '.git$' | head -1) fsck --no-progress " +
           "2>&1; echo rc=$?")
            .ends_with("rc=0"));
}

TEST_CASE(
    "publish pr pushes the branch and opens a pull request at the forge, retrying a "
    "forge that fails, the forge token stays out of the task") {
  RepoFleet f;
  FakeForge forge(FakeForgeOptions{.tokens = {"forge-tok-9d1e"}, .repos = {"git/origin"}});
  REQUIRE(forge.Start());
  forge.FailNext(2, 502);
  for (auto [name, value] : {std::pair{"forge-token", "forge-tok-9d1e"}}) {
    auto put = f.controller->Call("PUT", std::string("/v1/secrets/") + name, std::nullopt,
                                  json::serialize(json::object{{"value", value}}));
    REQUIRE(put);
    REQUIRE(put->status / 100 == 2);
  }
  const std::string id = f.Submit("env > env.txt; " + kFix, {{"url", f.origin},
                                                             {"ref", "main"},
                                                             {"publish", "pr"},
                                                             {"forge_api", forge.url()},
                                                             {"forge_secret", "forge-token"}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  REQUIRE(WaitUntil([&] { return Str(f.Change(id).at("published")) == "pr"; }, 60s));
  json::object c = f.Change(id);
  INFO(json::serialize(c));
  auto prs = forge.PullRequests();
  REQUIRE(prs.size() == 1);
  CHECK(prs[0].head == "autovibe/" + id);
  CHECK(prs[0].base == "main");
  CHECK(prs[0].title.find("fix add") != std::string::npos);
  CHECK(prs[0].body.find("sed -i") != std::string::npos);  // the prompt (here, the command)
  CHECK(prs[0].body.find(Str(c.at("head")).substr(0, 7)) != std::string::npos);
  CHECK(Str(c.at("pr_url")).find("/pull/" + std::to_string(prs[0].number)) != std::string::npos);
  CHECK(Sh("git --git-dir=" + f.origin + " rev-parse autovibe/" + id) == Str(c.at("head")));
  // The forge token was never the task's to see.
  const fs::path ws = fs::path(f.dir / "agent-1") / "workspaces" / id;
  CHECK(FileHolding(ws, "forge-tok-9d1e").empty());
  CHECK(FileHolding(fs::path(f.dir / "agent-1"), "forge-tok-9d1e").empty());
}

TEST_CASE("a project's repository is the default of its tasks, a task may name its own") {
  RepoFleet f;
  auto set = f.controller->Call(
      "PATCH", "/v1/projects/demo", std::nullopt,
      json::serialize(json::object{{"repo", json::object{{"url", f.origin}, {"ref", "main"}}}}));
  REQUIRE(set);
  INFO(set->body);
  REQUIRE(set->status == 200);
  CHECK(Str(json::parse(set->body).at("repo").at("url")) == f.origin);
  const std::string id =
      f.tasks->SubmitShell("demo", {"sh", "-c", "test -f calc.sh && git rev-parse HEAD"});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  CHECK(f.tasks->Logs(id).find(f.OriginHead()) != std::string::npos);
  CHECK(Str(f.tasks->Task(id).at("repo").at("url")) == f.origin);
  // A bad default is refused like a bad task repository, and changes nothing.
  auto bad = f.controller->Call(
      "PATCH", "/v1/projects/demo", std::nullopt,
      json::serialize(json::object{{"repo", json::object{{"url", "ext::sh -c id"}}}}));
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(Str(f.controller->GetJson("/v1/projects/demo").at("repo").at("url")) == f.origin);
  // Cleared: tasks start in an empty workspace again.
  auto cleared = f.controller->Call("PATCH", "/v1/projects/demo", std::nullopt, R"({"repo":null})");
  REQUIRE(cleared);
  CHECK(cleared->status == 200);
  const std::string plain = f.tasks->SubmitShell("demo", {"sh", "-c", "test ! -e calc.sh"});
  CHECK(f.tasks->WaitState(plain, "succeeded", 60s));
}

TEST_CASE(
    "the controller keeps a finished task's result for its result_retention, then lets "
    "it go and says so") {
  RepoFleet f(1, "result_retention = \"2s\"\n");
  const std::string id = f.Submit(kFix, {{"url", f.origin}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  REQUIRE(WaitUntil([&] { return f.Stored(id); }, 20s));
  REQUIRE(f.Get("/v1/tasks/" + id + "/diff")->status == 200);
  REQUIRE(WaitUntil([&] { return !f.Stored(id); }, 20s));
  CHECK(Str(f.Change(id).at("error")).starts_with("expired"));
  auto diff = f.Get("/v1/tasks/" + id + "/diff");
  REQUIRE(diff);
  CHECK(diff->status == 404);
  CHECK(diff->body.find("expired") != std::string::npos);
  CHECK_FALSE(fs::exists(fs::path(f.dir / "controller") / "results" / id));
}

TEST_CASE(
    "a change approved after its machine is gone is pushed by another machine from the "
    "bundle the controller kept") {
  RepoFleet f(2);
  const std::string id =
      f.Submit(kFix, {{"url", f.origin}, {"publish", "push"}, {"review", true}}, "agent-1");
  REQUIRE(f.tasks->WaitState(id, "awaiting_review", 60s));
  REQUIRE(WaitUntil([&] { return f.Stored(id); }, 20s));
  // The machine that made it goes (a pool retires idle machines long before a review).
  f.agents[0]->process().Signal(SIGKILL);
  REQUIRE(WaitUntil([&] { return f.controller->MachineState("agent-1") == "lost"; }, 30s));
  auto approved = f.controller->Call("POST", "/v1/tasks/" + id + "/approve");
  REQUIRE(approved);
  REQUIRE(approved->status == 200);
  const bool pushed = WaitUntil([&] { return Str(f.Change(id).at("published")) == "pushed"; }, 60s);
  INFO(json::serialize(f.Change(id)));
  REQUIRE(pushed);
  CHECK(Sh("git --git-dir=" + f.origin + " rev-parse autovibe/" + id) ==
        Str(f.Change(id).at("head")));
  CHECK(Sh("git --git-dir=" + f.origin + " log -1 --format=%s autovibe/" + id) == "fix add");
}

TEST_CASE(
    "an ssh repository is fetched and pushed with the key its secret holds, and a wrong "
    "key fails the task as repo_unavailable") {
  if (!SshdAvailable()) {
    FAIL(
        "sshd and ssh-keygen are needed (openssh-server, openssh-client): "
        "./scripts/install-deps.sh installs them");
  }
  RepoFleet f;
  Sshd sshd(f.dir / "sshd");
  const std::string url = "ssh://root@127.0.0.1:" + std::to_string(sshd.port()) + f.origin;
  auto put = [&](const std::string& name, const std::string& value) {
    auto r = f.controller->Call("PUT", "/v1/secrets/" + name, std::nullopt,
                                json::serialize(json::object{{"value", value}}));
    REQUIRE(r);
    REQUIRE(r->status / 100 == 2);
  };
  put("deploy-key", Slurp(sshd.private_key()));
  Sh("ssh-keygen -q -t ed25519 -N '' -f " + std::string(f.dir / "wrong_key"));
  put("wrong-key", Slurp(f.dir / "wrong_key"));

  const std::string refused = f.Submit("true", {{"url", url}, {"secret", "wrong-key"}});
  REQUIRE(f.tasks->WaitState(refused, "failed", 60s));
  const std::string reason = Str(f.tasks->Task(refused).at("reason"));
  INFO(reason);
  CHECK(reason.starts_with("repo_unavailable: "));
  CHECK_FALSE(fs::exists(fs::path(f.dir / "agent-1") / "workspaces" / refused));

  const std::string id =
      f.Submit(kFix, {{"url", url}, {"secret", "deploy-key"}, {"publish", "push"}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  REQUIRE(WaitUntil([&] { return Str(f.Change(id).at("published")) == "pushed"; }, 60s));
  CHECK(Sh("git --git-dir=" + f.origin + " rev-parse autovibe/" + id) ==
        Str(f.Change(id).at("head")));
  // The key was a file of the agent's only while git used it.
  CHECK(FileHolding(fs::path(f.dir / "agent-1"), "PRIVATE KEY").empty());
}
