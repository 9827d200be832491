// `autovibe task fetch`: a fake controller serves a real bundle made by git; the fetch runs
// real git in temporary repositories.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/task_fetch.h"
#include "tests/support/process.h"
#include "tests/support/shell.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;
using autovibe::testing::TempDir;
namespace json = boost::json;
namespace fs = std::filesystem;

using autovibe::testing::Sh;

// A repository with a base commit, the change a task made on autovibe/t-1 as a bundle (the
// branch itself gone, as in a clone of the remote), and a fake controller that serves both.
struct Remote {
  TempDir dir;
  std::string origin = dir / "origin";
  std::string base, head, bundle;
  FakeController ctl;
  json::object task;

  Remote() {
    const std::string git = "git -c user.email=dev@example.org -c user.name=Dev ";
    Sh("set -e; git init -q -b main " + origin + "; cd " + origin +
       "; echo 'add() { echo $(($1 - $2)); }' > calc.sh; git add .; " + git +
       "commit -qm base; git checkout -qb autovibe/t-1; "
       "echo 'add() { echo $(($1 + $2)); }' > calc.sh; " +
       git + "commit -qam 'fix add'; git bundle create -q " + (dir / "t-1.bundle") +
       " refs/heads/autovibe/t-1 ^main; git checkout -q main; git branch -qD autovibe/t-1");
    base = Sh("git -C " + origin + " rev-parse main");
    head = Sh("git bundle list-heads " + (dir / "t-1.bundle") + " | cut -d' ' -f1");
    std::ifstream in(dir / "t-1.bundle", std::ios::binary);
    bundle.assign(std::istreambuf_iterator<char>(in), {});
    task = json::parse(R"({"id":"t-1","state":"awaiting_review",
      "repo":{"url":"/srv/git/calc.git","ref":"main","publish":"none"},
      "change":{"branch":"autovibe/t-1","files_changed":1,"insertions":1,"deletions":1,
                "bundle_bytes":500,"stored":true,"published":""}})")
               .as_object();
    task["change"].as_object()["base"] = base;
    task["change"].as_object()["head"] = head;
    Serve();
    ctl.On("GET /v1/tasks/t-1/bundle", HttpReply{200, "application/octet-stream", bundle});
  }

  void Serve() { ctl.On("GET /v1/tasks/t-1", JsonReply(200, json::serialize(task))); }

  // A fresh clone of the remote, as a user has it.
  std::string Clone(const std::string& name) {
    Sh("git clone -q " + origin + " " + (dir / name));
    return dir / name;
  }

  struct Run {
    CliStatus status;
    std::string out;
  };
  Run Fetch(const std::string& repo, FetchFlags flags = {}, bool json_output = false) {
    flags.dir = repo;
    Client client = ctl.MakeClient();
    std::ostringstream out;
    GlobalOptions options;
    options.json = json_output;
    CommandContext ctx{client, options, out, kNowMs};
    CliStatus status = FetchTask(ctx, "t-1", flags);
    return {status, out.str()};
  }

  size_t BundleRequests() const {
    return std::count(ctl.requests().begin(), ctl.requests().end(),
                      std::string("GET /v1/tasks/t-1/bundle"));
  }
};

// Points TMPDIR at a directory of its own for as long as it lives.
struct PrivateTmp {
  TempDir dir;
  std::optional<std::string> saved;
  PrivateTmp() {
    if (const char* v = std::getenv("TMPDIR")) saved = v;
    setenv("TMPDIR", dir.path().c_str(), 1);
  }
  ~PrivateTmp() {
    if (saved) {
      setenv("TMPDIR", saved->c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
  }
  bool Empty() const { return fs::is_empty(dir.path()); }
};

}  // namespace

TEST_CASE("cli task fetch: the task's branch lands in the clone, at the task's commit", "[cli]") {
  Remote r;
  PrivateTmp tmp;
  const std::string clone = r.Clone("clone");
  auto run = r.Fetch(clone);
  INFO(run.out);
  REQUIRE(run.status);
  CHECK(Sh("git -C " + clone + " rev-parse refs/heads/autovibe/t-1") == r.head);
  CHECK(run.out == "fetched task t-1's change into branch autovibe/t-1 (" + r.base.substr(0, 7) +
                       ".." + r.head.substr(0, 7) +
                       ", 1 file changed, 1 insertion(+), 1 deletion(-))\n"
                       "check it out: git switch autovibe/t-1\n");
  // The checkout the user then makes holds the change; what they had is untouched.
  CHECK(Sh("git -C " + clone + " rev-parse HEAD") == r.base);
  Sh("git -C " + clone + " switch -q autovibe/t-1");
  CHECK(Sh("cat " + clone + "/calc.sh") == "add() { echo $(($1 + $2)); }");
  // The bundle's temporary file is gone.
  CHECK(tmp.Empty());

  // Again: the branch already holds it; nothing is downloaded.
  auto again = r.Fetch(clone);
  REQUIRE(again.status);
  CHECK_THAT(again.out, Catch::StartsWith("branch autovibe/t-1 already holds task t-1's change"));
  CHECK(r.BundleRequests() == 1);
}

TEST_CASE("cli task fetch --branch LOCAL --json: into a branch of the user's naming", "[cli]") {
  Remote r;
  const std::string clone = r.Clone("clone");
  auto run = r.Fetch(clone, {.local_branch = "review/add"}, true);
  REQUIRE(run.status);
  CHECK(Sh("git -C " + clone + " rev-parse review/add") == r.head);
  CHECK(json::parse(run.out) == json::object{{"id", "t-1"},
                                             {"branch", "review/add"},
                                             {"base", r.base},
                                             {"head", r.head},
                                             {"fetched", true}});
}

TEST_CASE("cli task fetch: a local branch elsewhere is kept unless --force", "[cli]") {
  Remote r;
  const std::string clone = r.Clone("clone");
  Sh("git -C " + clone + " branch autovibe/t-1");  // at the base, made by the user
  auto refused = r.Fetch(clone);
  REQUIRE_FALSE(refused.status);
  CHECK(refused.status.error().exit_code == 1);
  CHECK(refused.status.error().message ==
        "branch autovibe/t-1 already exists here at " + r.base.substr(0, 7) +
            ", not at the task's " + r.head.substr(0, 7) +
            ": --force moves it, or --branch NAME fetches into another branch");
  CHECK(Sh("git -C " + clone + " rev-parse autovibe/t-1") == r.base);
  CHECK(r.BundleRequests() == 0);

  auto forced = r.Fetch(clone, {.force = true});
  REQUIRE(forced.status);
  CHECK(Sh("git -C " + clone + " rev-parse autovibe/t-1") == r.head);
}

TEST_CASE("cli task fetch: outside a git repository, or in one without the base commit", "[cli]") {
  Remote r;
  TempDir plain;
  auto outside = r.Fetch(plain.path());
  REQUIRE_FALSE(outside.status);
  CHECK(outside.status.error().message ==
        "not in a git repository: run autovibe task fetch inside a clone of /srv/git/calc.git");

  Sh("git init -q -b main " + (plain / "other"));
  auto unrelated = r.Fetch(plain / "other");
  REQUIRE_FALSE(unrelated.status);
  CHECK(unrelated.status.error().message ==
        "this repository lacks the task's base commit " + r.base.substr(0, 7) +
            " (of /srv/git/calc.git at main): fetch it first (git fetch), or run this in a "
            "clone of /srv/git/calc.git");
  CHECK(Sh("git -C " + (plain / "other") + " for-each-ref").empty());
  CHECK(r.BundleRequests() == 0);
}

TEST_CASE("cli task fetch: no change to fetch, or one described with an option for git", "[cli]") {
  Remote r;
  const std::string clone = r.Clone("clone");
  json::object& c = r.task["change"].as_object();

  c["head"] = "";
  r.Serve();
  auto running = r.Fetch(clone);
  REQUIRE_FALSE(running.status);
  CHECK(running.status.error().message ==
        "task t-1 has not ended with a change yet (it is awaiting_review)");

  c["head"] = r.base;
  r.Serve();
  auto nothing = r.Fetch(clone);
  REQUIRE_FALSE(nothing.status);
  CHECK_THAT(nothing.status.error().message, Catch::Contains("changed nothing"));

  // A hostile or broken controller cannot make git run an option.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"head", "--upload-pack=touch pwned"},
                                                        {"base", "-oProxyCommand=x"},
                                                        {"branch", "--exec=x"}}) {
    Remote hostile;
    hostile.task["change"].as_object()[key] = value;
    hostile.Serve();
    auto refused = hostile.Fetch(clone);
    REQUIRE_FALSE(refused.status);
    CHECK_THAT(refused.status.error().message, Catch::Contains("malformed branch or commit id"));
    CHECK(hostile.BundleRequests() == 0);
  }
  CHECK_FALSE(fs::exists(clone + "/pwned"));
  CHECK(Sh("git -C " + clone + " branch --list 'autovibe/*'").empty());
}

TEST_CASE("cli task fetch: a bundle git refuses leaves no branch and no temporary file", "[cli]") {
  Remote r;
  PrivateTmp tmp;
  const std::string clone = r.Clone("clone");
  r.ctl.On("GET /v1/tasks/t-1/bundle", HttpReply{200, "application/octet-stream", "garbage"});
  auto run = r.Fetch(clone);
  REQUIRE_FALSE(run.status);
  CHECK_THAT(run.status.error().message,
             Catch::StartsWith("git could not fetch task t-1's bundle"));
  CHECK(Sh("git -C " + clone + " branch --list 'autovibe/*'").empty());
  CHECK(tmp.Empty());
}

}  // namespace autovibe::cli
