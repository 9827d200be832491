// `autovibe task` for repository tasks: the --repo flags of submit, the change in show and
// list, diff [--stat], approve and reject, against a fake controller
// (tests/unit/cli_fake_controller.h); fetch against it with real git in temporary directories.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "cli/diff_stat.h"
#include "cli/task_change.h"
#include "cli/task_change_cmd.h"
#include "cli/task_cmd.h"
#include "cli/task_submit.h"
#include "tests/unit/cli_fake_controller.h"
#include "tests/unit/cli_task_fixture.h"

namespace autovibe::cli {
namespace {

using namespace testing;
namespace json = boost::json;

constexpr const char* kBase = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
constexpr const char* kHead = "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";

// A repository task that ended awaiting review, as the API shows it.
json::object RepoTask(std::string state = "awaiting_review") {
  auto t = json::parse(R"({
    "id":"t-1","project":"demo","tool":"shell","prompt":"","command":["sh","-c","make fix"],
    "state":"awaiting_review","priority":0,"depends_on":[],"labels":{},"env":{},"options":{},
    "timeout_s":0,"max_attempts":3,"attempts":1,"machine_id":"m-1","machine_name":"agent-1",
    "exit_code":0,"reason":"",
    "report":{"turns":0,"session_id":"","reported_cost_usd":"0.00","result_subtype":""},
    "title":"fix add",
    "repo":{"url":"https://git.example.org/calc.git","ref":"main","secret":"gh","branch":"",
            "publish":"push","review":true,"publish_on":"success"},
    "change":{"base":"","head":"","branch":"autovibe/t-1","files_changed":1,"insertions":1,
              "deletions":1,"diff_bytes":312,"bundle_bytes":1100,"stored":true,"published":""},
    "created_at":"2026-11-22T01:38:42.123Z","assigned_at":null,"started_at":null,
    "finished_at":null,"last_log":""})")
               .as_object();
  t["state"] = state;
  json::object& c = t["change"].as_object();
  c["base"] = kBase;
  c["head"] = kHead;
  return t;
}

std::string Json(const json::object& o) { return json::serialize(o); }

const char* kDiff =
    "diff --git a/calc.sh b/calc.sh\n"
    "index 1111111..2222222 100644\n"
    "--- a/calc.sh\n"
    "+++ b/calc.sh\n"
    "@@ -1 +1 @@\n"
    "-add() { echo $(($1 - $2)); }\n"
    "+add() { echo $(($1 + $2)); }\n";

// `task submit ... <more> -- make fix`.
std::vector<std::string> Submit(std::vector<std::string> more) {
  more.insert(more.end(), {"--", "make", "fix"});
  return SubmitArgs(more);
}

}  // namespace

// --- submit ---

TEST_CASE("cli task submit --repo: every repository flag lands in the task's repo object",
          "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks", JsonReply(201, Json(RepoTask("queued"))));
  Outcome o =
      RunCli(ctl, Submit({"--title", "fix add", "--repo", "git@github.com:acme/calc.git", "--ref",
                          "v1.2", "--repo-secret", "gh", "--branch", "fix/add", "--publish", "pr",
                          "--publish-on", "failure", "--review", "--forge-api",
                          "https://api.github.com", "--forge-secret", "gh-pr"}));
  REQUIRE(o.exit_code == 0);
  CHECK(o.out == "t-1\n");
  CHECK(json::parse(ctl.bodies().at(0)) == json::parse(R"({
    "project":"demo","tool":"shell","command":["make","fix"],"title":"fix add",
    "repo":{"url":"git@github.com:acme/calc.git","ref":"v1.2","secret":"gh","branch":"fix/add",
            "publish":"pr","publish_on":"failure","review":true,
            "forge_api":"https://api.github.com","forge_secret":"gh-pr"}})"));
}

TEST_CASE("cli task submit --repo: only what is given is sent", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks", JsonReply(201, Json(RepoTask("queued"))));
  REQUIRE(RunCli(ctl, Submit({"--repo", "/srv/git/calc.git"})).exit_code == 0);
  CHECK(json::parse(ctl.bodies().at(0)) == json::parse(R"({
    "project":"demo","tool":"shell","command":["make","fix"],
    "repo":{"url":"/srv/git/calc.git"}})"));
}

TEST_CASE("cli task submit: repository flags that make no valid task are usage errors", "[cli]") {
  const std::string long_title(201, 't');
  CheckUsageErrors({
      {Submit({"--ref", "main"}),
       "--ref is about the task's repository: give the repository with --repo URL"},
      {Submit({"--review"}), "--review is about the task's repository"},
      {Submit({"--publish", "push"}), "--publish is about the task's repository"},
      {Submit({"--branch", "x"}), "--branch is about the task's repository"},
      {Submit({"--repo-secret", "gh"}), "--repo-secret is about the task's repository"},
      {Submit({"--repo", "/r.git", "--publish", "merge"}),
       "--publish: expected none, push or pr, got \"merge\""},
      {Submit({"--repo", "/r.git", "--publish-on", "always"}),
       "--publish-on: expected success or failure, got \"always\""},
      {Submit({"--repo", "ext::sh -c touch% /tmp/pwned"}), "--repo: repository \"ext::sh"},
      {Submit({"--repo", "--upload-pack=touch"}), "starts with '-'"},
      {Submit({"--repo", "https://user:pw@example.org/r.git"}), "store it as a secret"},
      {Submit({"--repo", "relative/path"}), "is not a URL, user@host:path or an absolute path"},
      {Submit({"--repo", "/r.git", "--ref", "a..b"}), "--ref: ref \"a..b\" may not hold \"..\""},
      {Submit({"--repo", "/r.git", "--ref", "--orphan"}), "--ref: ref \"--orphan\" may not start"},
      {Submit({"--repo", "/r.git", "--branch", "x y"}), "--branch: branch \"x y\" may not hold"},
      {Submit({"--repo", "/r.git", "--repo-secret", "a/b"}),
       "--repo-secret: \"a/b\" is not a secret name"},
      {Submit({"--repo", "/r.git", "--forge-secret", ".x"}),
       "--forge-secret: \".x\" is not a secret name"},
      {Submit({"--repo", "/r.git", "--forge-api", "ftp://x"}),
       "--forge-api: expected the forge's API URL"},
      {Submit({"--title", long_title}), "--title: at most 200 bytes, got 201"},
      {{"task", "fetch", "t-1", "--branch", "-x"}, "--branch: branch \"-x\" may not start"},
      {{"task", "reject", "t-1", "--reason", std::string(1001, 'r')},
       "--reason: at most 1000 bytes"},
      {{"task", "approve"}, "ID is required"},
  });
}

TEST_CASE("cli task submit --repo DIR: a relative directory is refused with its absolute path",
          "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, Submit({"--repo", "."}));
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("named by its absolute path (" +
                                    std::filesystem::current_path().string() + ")"));
  CHECK(ctl.requests().empty());
}

// --- show and list ---

TEST_CASE("cli task show: a repository task's change, where it came from and where it goes",
          "[cli]") {
  const KeyValues lines = TaskDetails(RepoTask(), kNowMs);
  auto value = [&](const std::string& key) {
    for (const auto& [k, v] : lines) {
      if (k == key) return v;
    }
    return std::string("(none)");
  };
  CHECK(value("title") == "fix add");
  CHECK(value("repo") == "https://git.example.org/calc.git (ref main, secret gh)");
  CHECK(value("publish") == "push, after review");
  CHECK(value("branch") == "autovibe/t-1");
  CHECK(value("change") == "1a2b3c4..5d6e7f8, 1 file changed, 1 insertion(+), 1 deletion(-)");
  CHECK(value("stored") == "yes (diff 312B, bundle 1.1K)");
  CHECK(value("published") == "not yet");
  // Nothing of the objects is printed raw as an unknown field.
  CHECK(value("repo.url") == "(none)");
  CHECK(value("change.base") == "(none)");

  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(RepoTask())));
  Outcome o = RunCli(ctl, {"task", "show", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK_THAT(o.out, Catch::Contains("state:         awaiting_review\n") &&
                        Catch::Contains("branch:        autovibe/t-1\n") &&
                        Catch::Contains("change:        1a2b3c4..5d6e7f8, 1 file changed"));
}

TEST_CASE("cli task show: a pull request, a failed push, no change, a change that failed",
          "[cli]") {
  json::object t = RepoTask("succeeded");
  json::object& repo = t["repo"].as_object();
  json::object& c = t["change"].as_object();
  repo["publish"] = "pr";
  repo["review"] = false;
  repo["publish_on"] = "failure";
  repo["forge_api"] = "https://api.github.com";
  repo["forge_secret"] = "gh-pr";
  c["published"] = "pr";
  c["pr_url"] = "https://github.com/acme/calc/pull/7";
  KeyValues lines = ChangeDetails(t);
  CHECK(lines.at(2).second ==
        "pr via https://api.github.com (forge secret gh-pr), also on failure");
  CHECK(lines.at(6).second == "pull request https://github.com/acme/calc/pull/7");

  c["published"] = "failed: 403 from the remote";
  CHECK(ChangeDetails(t).at(6).second == "failed: 403 from the remote");

  c["head"] = kBase;
  CHECK(ChangeLine(c) == "no change (left at 1a2b3c4)");
  c["head"] = "";
  c["stored"] = false;
  CHECK(ChangeLine(c) == "-");
  CHECK(ChangeDetails(t).at(5).second == "-");
  c["error"] = "the diff is 99 bytes, over the agent's limit of 10";
  CHECK(ChangeLine(c) == "none: the diff is 99 bytes, over the agent's limit of 10");

  // A task without a repository shows none of it.
  json::object plain = RepoTask();
  plain.erase("repo");
  plain.erase("change");
  plain.erase("title");
  CHECK(ChangeDetails(plain).empty());
}

TEST_CASE("cli task list: review states and titles, --state awaiting_review is sent", "[cli]") {
  json::object rejected = RepoTask("rejected");
  rejected["id"] = "t-2";
  rejected.erase("title");
  json::array tasks{RepoTask(), rejected};
  FakeController ctl;
  ctl.On("GET /v1/tasks?state=awaiting_review",
         JsonReply(200, json::serialize(json::object{{"tasks", tasks}})));
  Outcome o = RunCli(ctl, {"task", "list", "--state", "awaiting_review"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "ID   PROJECT  TOOL   STATE            MACHINE  ATTEMPTS  EXIT  AGE  WHAT\n"
        "t-1  demo     shell  awaiting_review  agent-1  1/3       0     1m   fix add\n"
        "t-2  demo     shell  rejected         agent-1  1/3       0     1m   sh -c 'make fix'\n");
}

// --- diff ---

TEST_CASE("cli task diff: the diff byte for byte, whatever it holds", "[cli]") {
  const std::string diff = std::string(kDiff) + "\\ No newline at end of file\n\x01\xff";
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1/diff", HttpReply{200, "text/x-diff", diff});
  Outcome o = RunCli(ctl, {"task", "diff", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == diff);
  CHECK(o.err.empty());
  // The controller waits for nothing; a large diff may take time to send.
  CHECK(ctl.timeouts().back() >= std::chrono::minutes(1));
}

TEST_CASE("cli task diff: no diff yet, no repository, an empty change", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1/diff",
         ApiError(409, "conflict", "task t-1 has not ended with a change yet"));
  Outcome o = RunCli(ctl, {"task", "diff", "t-1"});
  CHECK(o.exit_code == 1);
  CHECK(o.err == "autovibe: 409 conflict: task t-1 has not ended with a change yet\n");
  CHECK(o.out.empty());

  ctl.On("GET /v1/tasks/t-2/diff", ApiError(404, "not_found", "task t-2 has no repository"));
  o = RunCli(ctl, {"task", "diff", "t-2"});
  CHECK(o.exit_code == 4);
  CHECK(o.err == "autovibe: task t-2 has no repository\n");

  ctl.On("GET /v1/tasks/t-3/diff", HttpReply{200, "text/x-diff", ""});
  o = RunCli(ctl, {"task", "diff", "t-3"});
  CHECK(o.exit_code == 0);
  CHECK(o.out.empty());
}

TEST_CASE("cli task diff --stat: per file from the diff, as git prints it", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(RepoTask())));
  ctl.On("GET /v1/tasks/t-1/diff", HttpReply{200, "text/x-diff", kDiff});
  Outcome o = RunCli(ctl, {"task", "diff", "t-1", "--stat"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        " calc.sh | 2 +-\n"
        " 1 file changed, 1 insertion(+), 1 deletion(-)\n");

  Outcome j = RunCli(ctl, {"--json", "task", "diff", "t-1", "--stat"});
  CHECK(j.exit_code == 0);
  CHECK(json::parse(j.out) == RepoTask().at("change"));
}

TEST_CASE("cli task diff --stat: the change's own figures while the diff is not held yet",
          "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(RepoTask())));
  ctl.On("GET /v1/tasks/t-1/diff",
         ApiError(409, "conflict", "the controller does not hold task t-1's diff yet"));
  Outcome o = RunCli(ctl, {"task", "diff", "--stat", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        " 1 file changed, 1 insertion(+), 1 deletion(-)\n"
        " (per file once the controller holds the diff: 409 conflict: the controller does not "
        "hold task t-1's diff yet)\n");
}

TEST_CASE("cli task diff --stat: no change, a running task, a task without a repository", "[cli]") {
  FakeController ctl;
  json::object same = RepoTask("succeeded");
  same["change"].as_object()["head"] = kBase;
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(same)));
  Outcome o = RunCli(ctl, {"task", "diff", "t-1", "--stat"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "no change: task t-1 left the repository at 1a2b3c4\n");

  json::object running = RepoTask("running");
  running["change"].as_object()["head"] = "";
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(running)));
  o = RunCli(ctl, {"task", "diff", "t-1", "--stat"});
  CHECK(o.exit_code == 1);
  CHECK(o.err == "autovibe: task t-1 has not ended with a change yet (it is running)\n");

  json::object plain = RepoTask("succeeded");
  plain.erase("repo");
  plain.erase("change");
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(plain)));
  o = RunCli(ctl, {"task", "diff", "t-1", "--stat"});
  CHECK(o.exit_code == 4);
  CHECK(o.err == "autovibe: task t-1 has no repository, so no change\n");
}

TEST_CASE("diff stat: new, deleted, renamed and binary files, hunk lines that look like headers",
          "[cli]") {
  const std::string diff =
      "diff --git a/src/new file.txt b/src/new file.txt\n"
      "new file mode 100644\n"
      "index 0000000..1111111\n"
      "--- /dev/null\n"
      "+++ b/src/new file.txt\n"
      "@@ -0,0 +1,3 @@\n"
      "+one\n"
      "++two\n"
      "+--- three\n"
      "diff --git a/old.txt b/old.txt\n"
      "deleted file mode 100644\n"
      "--- a/old.txt\n"
      "+++ /dev/null\n"
      "@@ -1,2 +0,0 @@\n"
      "--- gone\n"
      "-also gone\n"
      "\\ No newline at end of file\n"
      "diff --git a/a.c b/b.c\n"
      "similarity index 90%\n"
      "rename from a.c\n"
      "rename to b.c\n"
      "--- a/a.c\n"
      "+++ b/b.c\n"
      "@@ -1,3 +1,3 @@\n"
      " int x;\n"
      "\n"
      "-int y;\n"
      "+int z;\n"
      "diff --git a/logo.png b/logo.png\n"
      "new file mode 100644\n"
      "index 0000000..3333333\n"
      "GIT binary patch\n"
      "literal 12\n"
      "TcmZ?wbhEHbRA5kGU|;|M2JHY!\n"
      "\n"
      "literal 0\n"
      "HcmV?d00001\n"
      "\n"
      "diff --git a/x.bin b/x.bin\n"
      "Binary files a/x.bin and b/x.bin differ\n";
  const auto files = ParseDiffStat(diff);
  REQUIRE(files.size() == 5);
  CHECK(files[0].path == "src/new file.txt");
  CHECK(files[0].insertions == 3);
  CHECK(files[0].deletions == 0);
  CHECK(files[1].path == "old.txt");
  CHECK(files[1].deletions == 2);
  CHECK(files[2].path == "a.c => b.c");
  CHECK((files[2].insertions == 1 && files[2].deletions == 1));
  CHECK((files[3].path == "logo.png" && files[3].binary));
  CHECK((files[3].insertions == 0 && files[3].deletions == 0));
  CHECK((files[4].path == "x.bin" && files[4].binary));

  std::ostringstream out;
  PrintDiffStat(out, files);
  CHECK(out.str() ==
        " src/new file.txt |   3 +++\n"
        " old.txt          |   2 --\n"
        " a.c => b.c       |   2 +-\n"
        " logo.png         | Bin\n"
        " x.bin            | Bin\n"
        " 5 files changed, 4 insertions(+), 3 deletions(-)\n");
  CHECK(ParseDiffStat("not a diff at all\n+++ nothing\n").empty());
}

TEST_CASE("diff stat: bars are scaled to the width, and every change shows", "[cli]") {
  std::ostringstream out;
  PrintDiffStat(out, {{"big.txt", 300, 100}, {"small.txt", 1, 1}}, 40);
  CHECK(out.str() ==
        " big.txt   | 400 "
        "+++++++++++++++++------\n"
        " small.txt |   2 +-\n"
        " 2 files changed, 301 insertions(+), 101 deletions(-)\n");
}

TEST_CASE("diff stat: the summary line reads as git's", "[cli]") {
  CHECK(ShortStat(0, 0, 0) == "0 files changed");
  CHECK(ShortStat(1, 1, 1) == "1 file changed, 1 insertion(+), 1 deletion(-)");
  CHECK(ShortStat(2, 5, 0) == "2 files changed, 5 insertions(+)");
  CHECK(ShortStat(3, 0, 2) == "3 files changed, 2 deletions(-)");
  CHECK(ShortStat(1, 0, 0) == "1 file changed, 0 insertions(+), 0 deletions(-)");
}

// --- approve and reject ---

TEST_CASE("cli task approve: prints the state and what is published", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks/t-1/approve", JsonReply(200, Json(RepoTask("succeeded"))));
  Outcome o = RunCli(ctl, {"task", "approve", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "t-1 succeeded\n"
        "publishing (push): autovibe task show t-1 says when it is done\n");
  CHECK(ctl.bodies().at(0).empty());
  Outcome j = RunCli(ctl, {"task", "approve", "t-1", "--json"});
  CHECK(json::parse(j.out) == RepoTask("succeeded"));
}

TEST_CASE("cli task reject --reason: the reason is sent, a task not awaiting review is a conflict",
          "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks/t-1/reject", JsonReply(200, Json(RepoTask("rejected"))));
  Outcome o = RunCli(ctl, {"task", "reject", "t-1", "--reason", "wrong approach"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "t-1 rejected\n");
  CHECK(json::parse(ctl.bodies().at(0)) == json::parse(R"({"reason":"wrong approach"})"));

  ctl.On("POST /v1/tasks/t-1/approve",
         ApiError(409, "conflict", "task t-1 is rejected, not awaiting_review"));
  o = RunCli(ctl, {"task", "approve", "t-1"});
  CHECK(o.exit_code == 1);
  CHECK(o.err == "autovibe: 409 conflict: task t-1 is rejected, not awaiting_review\n");
}

}  // namespace autovibe::cli

// --- submit --wait ---

namespace autovibe::cli {
namespace {

WaitRun SubmitRepoTaskAndWait(FakeController& ctl, FakeTerminal& term, bool as_json = false) {
  json::object queued = RepoTask("queued");
  queued["change"].as_object()["head"] = "";
  queued["machine_id"] = "";
  queued["machine_name"] = "";
  return SubmitAndWait(ctl, term, Json(queued), false, as_json);
}

std::string StateEvent(const std::string& state) {
  return json::serialize(json::object{
      {"state", state}, {"machine_id", "m-1"}, {"machine_name", "agent-1"}, {"attempts", 1}});
}

}  // namespace

TEST_CASE("cli task submit --wait: awaiting review ends the wait with 0 and says what next",
          "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", StateEvent("running")), Event("state", StateEvent("awaiting_review")),
        // Never reached: the wait ended at the review.
        Event("end", Json(RepoTask("succeeded")))}});
  ctl.On("GET /v1/tasks/t-1", JsonReply(200, Json(RepoTask())));
  FakeTerminal term;
  WaitRun run = SubmitRepoTaskAndWait(ctl, term);
  REQUIRE(run.status);
  CHECK(run.out == "t-1\n");
  CHECK(term.err.str() ==
        "t-1 queued, 0s\n"
        "t-1 running on agent-1, 1s\n"
        "t-1 awaiting_review after 2s on agent-1\n"
        "  branch autovibe/t-1: 1a2b3c4..5d6e7f8, 1 file changed, 1 insertion(+), 1 deletion(-)\n"
        "  see it: autovibe task diff t-1; bring it here: autovibe task fetch t-1\n"
        "  then: autovibe task approve t-1 (or reject t-1 --reason ...)\n");

  FakeController again;
  again.AddStream({{Event("state", StateEvent("awaiting_review"))}});
  again.On("GET /v1/tasks/t-1", JsonReply(200, Json(RepoTask())));
  FakeTerminal quiet;
  WaitRun j = SubmitRepoTaskAndWait(again, quiet, true);
  REQUIRE(j.status);
  CHECK(json::parse(j.out) == RepoTask());
}

TEST_CASE("cli task submit --wait: a repository task that succeeded names its branch", "[cli]") {
  FakeController ctl;
  json::object done = RepoTask("succeeded");
  done["repo"].as_object()["review"] = false;
  ctl.AddStream({{Event("state", StateEvent("running")), Event("end", Json(done))}});
  FakeTerminal term;
  WaitRun run = SubmitRepoTaskAndWait(ctl, term);
  REQUIRE(run.status);
  CHECK_THAT(term.err.str(),
             Catch::EndsWith("t-1 succeeded in 2s on agent-1\n"
                             "  branch autovibe/t-1: 1a2b3c4..5d6e7f8, 1 file changed, 1 "
                             "insertion(+), 1 deletion(-)\n"
                             "  see it: autovibe task diff t-1; bring it here: autovibe task "
                             "fetch t-1\n"));
}

}  // namespace autovibe::cli
