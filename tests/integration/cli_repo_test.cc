// The git workflow as a user runs it, with the real autovibe binary against a real fleet (a
// nats-server, the controller, an agent) and git repositories on the local disk (the
// controller allows their root): submit --repo, watch, show, diff, fetch into a fresh clone,
// review and approve or reject.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/shell.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// A word for sh -c, in single quotes.
std::string Quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliRun {
  int exit_code = -1;
  std::string out;  // standard output alone (a diff, an id)
  std::string err;
};

// A fleet of one agent whose tasks may use the repositories under `git`, and a user who runs
// the autovibe CLI in a directory of their choosing.
struct GitFleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::string git = dir / "git";
  std::string origin = git + "/calc.git";
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  int runs = 0;

  GitFleet() {
    // The project: an add() that subtracts, and a test that says so.
    Sh("set -e; mkdir -p " + git + "; cd " + git + "; git init -q -b main src; cd src; " +
       "printf 'add() { echo $(($1 - $2)); }\\n' > calc.sh; "
       "printf '. ./calc.sh; [ \"$(add 2 3)\" = 5 ] && echo PASS || { echo FAIL; exit 1; }\\n' "
       "> test.sh; git add .; git -c user.email=dev@example.org -c user.name=Dev commit -qm "
       "calc; git clone -q --bare . " +
       origin);
    std::ofstream(dir / "controller.toml") << "repo_local_roots = [\"" << git << "\"]\n";
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--config", dir / "controller.toml", "--heartbeat-interval",
                                 "200ms"});
    agent = std::make_unique<AgentProcess>("agent-1", dir / "agent-1", nats.url());
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready";
        },
        15s));
    REQUIRE(Cli(dir.path(), {"project", "create", "demo"}).exit_code == 0);
  }

  // Runs `autovibe <args>` in `cwd` against the controller.
  CliRun Cli(const std::string& cwd, const std::vector<std::string>& args) {
    const std::string out = dir / ("cli-" + std::to_string(++runs) + ".out");
    const std::string err = out + ".err";
    std::string line = "cd " + Quoted(cwd) + " && " + Quoted(BinPath("autovibe")) +
                       " --controller " + controller->base_url() + " --token " +
                       controller->token();
    for (const std::string& a : args) line += " " + Quoted(a);
    line += " >" + out + " 2>" + err + "; echo $?";
    CliRun run;
    run.exit_code = std::stoi(Sh(line));
    run.err = Sh("cat " + err);
    std::ifstream in(out, std::ios::binary);
    run.out.assign(std::istreambuf_iterator<char>(in), {});
    return run;
  }

  json::object Task(const std::string& id) {
    CliRun r = Cli(dir.path(), {"--json", "task", "show", id});
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out).as_object();
  }
  json::object Change(const std::string& id) { return Task(id).at("change").as_object(); }

  bool WaitFor(const std::string& id, const std::function<bool(const json::object&)>& done) {
    return WaitUntil([&] { return done(Task(id)); }, 60s, 200ms);
  }

  // A fresh clone of the remote, as a user makes one.
  std::string Clone(const std::string& name) {
    Sh("git clone -q " + origin + " " + (dir / name));
    return dir / name;
  }
};

std::string Str(const json::value& v) { return std::string(v.as_string()); }

const std::string kFix = "sed -i 's/\\$1 - \\$2/$1 + $2/' calc.sh";

}  // namespace

TEST_CASE(
    "the CLI's git workflow: submit --repo --wait, show, diff, fetch into a fresh clone where "
    "the test passes") {
  GitFleet f;
  const std::string base = Sh("git --git-dir=" + f.origin + " rev-parse main");

  // A repository outside the allowed roots is the controller's to refuse, and it says why.
  CliRun outside = f.Cli(f.dir.path(), {"task", "submit", "--project", "demo", "--tool", "shell",
                                        "--repo", "/root/elsewhere.git", "--", "true"});
  CHECK(outside.exit_code == 1);
  CHECK_THAT(outside.err, Catch::Contains("outside the allowed roots"));

  CliRun submit = f.Cli(
      f.dir.path(), {"task", "submit", "--project", "demo", "--tool", "shell", "--title", "fix add",
                     "--repo", f.origin, "--ref", "main", "--wait", "--", "sh", "-c", kFix});
  INFO(submit.err);
  REQUIRE(submit.exit_code == 0);
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  CHECK_THAT(submit.err, Catch::Contains(id + " succeeded") &&
                             Catch::Contains("  branch autovibe/" + id + ": ") &&
                             Catch::Contains("see it: autovibe task diff " + id));
  REQUIRE(
      f.WaitFor(id, [](const json::object& t) { return t.at("change").at("stored").as_bool(); }));
  const std::string head = Str(f.Change(id).at("head"));

  CliRun show = f.Cli(f.dir.path(), {"task", "show", id});
  REQUIRE(show.exit_code == 0);
  CHECK_THAT(show.out,
             Catch::Contains("title:         fix add\n") &&
                 Catch::Contains("repo:          " + f.origin + " (ref main)\n") &&
                 Catch::Contains("branch:        autovibe/" + id + "\n") &&
                 Catch::Contains("change:        " + base.substr(0, 7) + ".." + head.substr(0, 7) +
                                 ", 1 file changed, 1 insertion(+), 1 deletion(-)\n") &&
                 Catch::Contains("stored:        yes (diff "));

  // The diff, as git would print it: it applies to a clone and fixes the test there.
  CliRun diff = f.Cli(f.dir.path(), {"task", "diff", id});
  REQUIRE(diff.exit_code == 0);
  CHECK_THAT(diff.out, Catch::Contains("-add() { echo $(($1 - $2)); }\n+add() { echo $(($1 + "
                                       "$2)); }\n"));
  const std::string applied = f.Clone("applied");
  std::ofstream(f.dir / "task.diff", std::ios::binary) << diff.out;
  Sh("cd " + applied + " && git apply " + (f.dir / "task.diff"));
  CHECK(Sh("cd " + applied + " && sh test.sh") == "PASS");

  CliRun stat = f.Cli(f.dir.path(), {"task", "diff", id, "--stat"});
  REQUIRE(stat.exit_code == 0);
  CHECK(stat.out == " calc.sh | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n");

  // Fetched into a fresh clone, the branch is the task's commit on the base, and the test
  // passes there.
  const std::string clone = f.Clone("clone");
  CliRun fetch = f.Cli(clone, {"task", "fetch", id});
  INFO(fetch.err);
  REQUIRE(fetch.exit_code == 0);
  CHECK(fetch.out == "fetched task " + id + "'s change into branch autovibe/" + id + " (" +
                         base.substr(0, 7) + ".." + head.substr(0, 7) +
                         ", 1 file changed, 1 insertion(+), 1 deletion(-))\n"
                         "check it out: git switch autovibe/" +
                         id + "\n");
  Sh("cd " + clone + " && git switch -q autovibe/" + id);
  CHECK(Sh("cd " + clone + " && git rev-parse HEAD^") == base);
  CHECK(Sh("cd " + clone + " && sh test.sh") == "PASS");
  CHECK(Sh("cd " + clone + " && git log -1 --format=%s") == "fix add");

  // Where it cannot go: a directory that is no repository; a branch the user has elsewhere.
  CliRun nowhere = f.Cli(f.dir.path(), {"task", "fetch", id});
  CHECK(nowhere.exit_code == 1);
  CHECK_THAT(nowhere.err, Catch::Contains("not in a git repository"));
  const std::string other = f.Clone("other");
  Sh("cd " + other + " && git branch mine");
  CliRun taken = f.Cli(other, {"task", "fetch", id, "--branch", "mine"});
  CHECK(taken.exit_code == 1);
  CHECK_THAT(taken.err, Catch::Contains("branch mine already exists here"));
  CHECK(Sh("cd " + other + " && git rev-parse mine") == base);
  CHECK(f.Cli(other, {"task", "fetch", id, "--branch", "mine", "--force"}).exit_code == 0);
  CHECK(Sh("cd " + other + " && git rev-parse mine") == head);
}

TEST_CASE(
    "the CLI's review gate: --wait ends at awaiting_review, approve pushes the branch, reject "
    "never does") {
  GitFleet f;
  const std::vector<std::string> submit = {"task",     "submit",    "--project", "demo",
                                           "--tool",   "shell",     "--repo",    f.origin,
                                           "--review", "--publish", "push"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = submit;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  CliRun a = f.Cli(f.dir.path(), with({"--wait", "--", "sh", "-c", kFix}));
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  const std::string ida = a.out.substr(0, a.out.find('\n'));
  CHECK_THAT(a.err, Catch::Contains(ida + " awaiting_review after ") &&
                        Catch::Contains("then: autovibe task approve " + ida));
  CliRun b = f.Cli(f.dir.path(), with({"--", "sh", "-c", "echo more >> calc.sh"}));
  REQUIRE(b.exit_code == 0);
  const std::string idb = b.out.substr(0, b.out.find('\n'));
  REQUIRE(f.WaitFor(
      idb, [](const json::object& t) { return t.at("state").as_string() == "awaiting_review"; }));

  CliRun waiting = f.Cli(f.dir.path(), {"task", "list", "--state", "awaiting_review"});
  REQUIRE(waiting.exit_code == 0);
  CHECK_THAT(waiting.out,
             Catch::Contains(ida) && Catch::Contains(idb) && Catch::Contains("awaiting_review"));
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list 'autovibe/*'").empty());

  CliRun rejected = f.Cli(f.dir.path(), {"task", "reject", idb, "--reason", "not this one"});
  REQUIRE(rejected.exit_code == 0);
  CHECK(rejected.out == idb + " rejected\n");
  CliRun approved = f.Cli(f.dir.path(), {"task", "approve", ida});
  REQUIRE(approved.exit_code == 0);
  CHECK(approved.out == ida + " succeeded\npublishing (push): autovibe task show " + ida +
                            " says when it is done\n");
  REQUIRE(f.WaitFor(ida, [](const json::object& t) {
    return t.at("change").at("published").as_string() == "pushed";
  }));
  CHECK(Sh("git --git-dir=" + f.origin + " rev-parse autovibe/" + ida) ==
        Str(f.Change(ida).at("head")));
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list autovibe/" + idb).empty());

  CliRun show = f.Cli(f.dir.path(), {"task", "show", ida});
  CHECK_THAT(show.out, Catch::Contains("published:     pushed\n") &&
                           Catch::Contains("publish:       push, after review\n"));
  CliRun shown_b = f.Cli(f.dir.path(), {"task", "show", idb});
  CHECK_THAT(shown_b.out, Catch::Contains("state:         rejected\n") &&
                              Catch::Contains("reason:        rejected: not this one\n"));

  // Approving twice, or approving what was rejected, is refused and changes nothing.
  CliRun again = f.Cli(f.dir.path(), {"task", "approve", ida});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("409 conflict: task " + ida + " is succeeded"));
  CliRun late = f.Cli(f.dir.path(), {"task", "approve", idb});
  CHECK(late.exit_code == 1);
  CHECK_THAT(late.err, Catch::Contains("not awaiting_review"));
  CHECK(Sh("git --git-dir=" + f.origin + " branch --list autovibe/" + idb).empty());
}
