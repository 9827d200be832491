// `autovibe task ...`: parsing, requests, output, following and waiting, against a fake
// controller (tests/unit/cli_fake_controller.h).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "cli/task_cmd.h"
#include "cli/task_logs.h"
#include "cli/task_submit.h"
#include "cli/task_wait.h"
#include "tests/unit/cli_fake_controller.h"
#include "tests/unit/cli_task_fixture.h"

namespace autovibe::cli {
namespace {

using namespace testing;
namespace json = boost::json;
using std::chrono::milliseconds;

// A running shell task, as the API shows it.
json::object Task(std::string state = "running") {
  auto t = json::parse(R"({
    "id":"t-0123456789ab","project":"demo","tool":"shell","prompt":"",
    "command":["sh","-c","echo hi && sleep 1"],"state":"running","priority":0,"depends_on":[],
    "labels":{"team":"core"},"env":{},"options":{},"timeout_s":1800,"max_attempts":3,
    "attempts":1,"machine_id":"m-1","machine_name":"agent-1","exit_code":null,"reason":"",
    "report":{"turns":0,"session_id":"","reported_cost_usd":"0.00","result_subtype":""},
    "created_at":"2026-11-22T01:38:42.123Z","assigned_at":"2026-11-22T01:38:49.000Z",
    "started_at":"2026-11-22T01:38:50.000Z",
    "finished_at":null,"last_log":"hi"})")
               .as_object();
  t["state"] = state;
  return t;
}

std::string TaskJson(std::string state = "running") { return json::serialize(Task(state)); }

// A task just submitted: queued, on no machine yet.
std::string Queued() {
  json::object t = Task("queued");
  t["machine_id"] = "";
  t["machine_name"] = "";
  t["attempts"] = 0;
  t["started_at"] = nullptr;
  return json::serialize(t);
}

// The end event's task.
std::string Finished(std::string state, json::value exit_code, std::string reason = "") {
  json::object t = Task(state);
  t["exit_code"] = exit_code;
  t["reason"] = reason;
  return json::serialize(t);
}

std::string Chunk(int seq, std::string stream, std::string data) {
  return json::serialize(
      json::object{{"seq", seq}, {"attempt", 1}, {"stream", stream}, {"data", data}});
}

std::string State(std::string state, std::string machine = "", int attempts = 1,
                  std::string reason = "") {
  return json::serialize(json::object{{"state", state},
                                      {"machine_id", machine.empty() ? "" : "m-1"},
                                      {"machine_name", machine},
                                      {"attempts", attempts},
                                      {"reason", reason}});
}

constexpr const char* kBudgetPause =
    "paused: budget usd of project demo is used up ($1.00 of $1.00)";

std::vector<std::string> Submit(std::vector<std::string> more) { return SubmitArgs(more); }

}  // namespace

// --- submit: from flags to the request ---

TEST_CASE("cli task submit: every flag lands in the request", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks", JsonReply(201, TaskJson("queued")));
  Outcome o = RunCli(ctl, {"task",
                           "submit",
                           "--project",
                           "demo",
                           "--tool",
                           "claude-code",
                           "--prompt",
                           "fix the build",
                           "--priority",
                           "5",
                           "--after",
                           "t-1",
                           "--after",
                           "t-2",
                           "--label",
                           "team=core",
                           "--label",
                           "ticket=A-1=b",
                           "--env",
                           "DEBUG=1",
                           "--model",
                           "opus",
                           "--max-turns",
                           "7",
                           "--max-attempts",
                           "2",
                           "--timeout",
                           "30m",
                           "--max-usd",
                           "0.5",
                           "--from-checkpoint",
                           "cp-9"});
  REQUIRE(o.exit_code == 0);
  CHECK(o.out == "t-0123456789ab\n");
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({
    "project":"demo","tool":"claude-code","prompt":"fix the build","priority":5,
    "depends_on":["t-1","t-2"],"labels":{"team":"core","ticket":"A-1=b"},"env":{"DEBUG":"1"},
    "options":{"model":"opus","max_turns":"7"},"timeout_s":1800,"max_attempts":2,
    "max_usd":"0.50","from_checkpoint":"cp-9"})"));
}

TEST_CASE("cli task submit: the words after -- are the command, global options included", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks", JsonReply(201, TaskJson("queued")));
  Outcome o = RunCli(ctl, {"--controller", "http://elsewhere:1", "task", "submit", "--project",
                           "demo", "--tool", "shell", "--", "sh", "-c", "echo --json", "--json"});
  REQUIRE(o.exit_code == 0);
  CHECK(o.out == "t-0123456789ab\n");  // not JSON: --json was part of the command
  CHECK(json::parse(ctl.bodies()[0]) == json::parse(R"({"project":"demo","tool":"shell",
    "command":["sh","-c","echo --json","--json"]})"));
}

TEST_CASE("cli task submit --json: the whole task, wherever --json stands", "[cli]") {
  std::vector<std::string> json_first = Submit({"--", "true"});
  json_first.insert(json_first.begin(), "--json");
  for (const auto& line : {Submit({"--json", "--", "true"}), json_first}) {
    FakeController ctl;
    ctl.On("POST /v1/tasks", JsonReply(201, Queued()));
    Outcome o = RunCli(ctl, line);
    REQUIRE(o.exit_code == 0);
    CHECK(json::parse(o.out) == json::parse(Queued()));
  }
}

TEST_CASE("cli task submit: flags that make no valid task are usage errors", "[cli]") {
  CheckUsageErrors({
      {Submit({}), "say what the task does: --prompt TEXT, or a command after --"},
      {Submit({"--prompt", "x", "--", "ls"}), "either --prompt or a command after --, not both"},
      {Submit({"--label", "team", "--", "ls"}), "--label: expected KEY=VALUE, got \"team\""},
      {Submit({"--label", "=x", "--", "ls"}), "--label: expected KEY=VALUE, got \"=x\""},
      {Submit({"--label", "a=1", "--label", "a=2", "--", "ls"}), "--label: \"a\" is given twice"},
      {Submit({"--env", "1X=2", "--", "ls"}), "--env: expected NAME=VALUE, got \"1X=2\""},
      {Submit({"--env", "A-B=2", "--", "ls"}), "--env: expected NAME=VALUE"},
      {Submit({"--timeout", "30", "--", "ls"}), "--timeout: invalid duration \"30\""},
      {Submit({"--timeout", "500ms", "--", "ls"}), "--timeout: must be at least 1s"},
      {Submit({"--max-attempts", "0", "--", "ls"}), "--max-attempts: must be at least 1, got 0"},
      {Submit({"--max-turns", "-1", "--", "ls"}), "--max-turns: must be at least 1"},
      {Submit({"--priority", "high", "--", "ls"}), "--priority"},
      {Submit({"--max-usd", "0", "--", "ls"}), "--max-usd: expected a positive amount"},
      {Submit({"--max-usd", "1.2345678", "--", "ls"}), "--max-usd: expected a positive amount"},
      {{"task", "submit", "--tool", "shell", "--", "ls"}, "--project is required"},
  });
}

TEST_CASE("cli task submit: a timeout rounds up to whole seconds", "[cli]") {
  SubmitFlags f{.project = "p", .tool = "shell", .command = {"ls"}, .timeout = "1500ms"};
  CHECK(SubmitRequest(f)->at("timeout_s") == 2);
  f.timeout = "1h30m";
  CHECK(SubmitRequest(f)->at("timeout_s") == 5400);
}

// --- list, show, cancel ---

TEST_CASE("cli task list: an aligned table, filters are sent encoded", "[cli]") {
  json::object queued = Task("queued");
  queued["id"] = "t-2";
  queued["tool"] = "claude-code";
  queued["prompt"] = "Refactor the\n  parser module so that it streams its input";
  queued["machine_id"] = "";
  queued["machine_name"] = "";
  queued["attempts"] = 0;
  json::object failed = Task("failed");
  failed["id"] = "t-3";
  failed["exit_code"] = 3;
  failed["command"] = json::array{"make", "test"};
  json::array tasks{Task(), queued, failed};
  FakeController ctl;
  ctl.On("GET /v1/tasks?project=my%20demo&state=running",
         JsonReply(200, json::serialize(json::object{{"tasks", tasks}})));
  Outcome o = RunCli(ctl, {"task", "list", "--project", "my demo", "--state", "running"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "ID              PROJECT  TOOL         STATE    MACHINE  ATTEMPTS  EXIT  AGE  WHAT\n"
        "t-0123456789ab  demo     shell        running  agent-1  1/3       -     1m   sh -c "
        "'echo hi && sleep 1'\n"
        "t-2             demo     claude-code  queued   -        0/3       -     1m   Refactor "
        "the parser module so that it...\n"
        "t-3             demo     shell        failed   agent-1  1/3       3     1m   make test\n");
}

TEST_CASE("cli task list: none, and --json is the API's", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks", JsonReply(200, R"({"tasks":[]})"));
  CHECK(RunCli(ctl, {"task", "list"}).out == "no tasks\n");
  CHECK(json::parse(RunCli(ctl, {"task", "list", "--json"}).out) == json::parse(R"({"tasks":[]})"));
}

TEST_CASE("cli task show: every field as key: value lines", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-0123456789ab", JsonReply(200, TaskJson()));
  Outcome o = RunCli(ctl, {"task", "show", "t-0123456789ab"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "id:            t-0123456789ab\n"
        "project:       demo\n"
        "tool:          shell\n"
        "state:         running\n"
        "reason:        -\n"
        "command:       sh -c 'echo hi && sleep 1'\n"
        "priority:      0\n"
        "depends on:    -\n"
        "labels:        team=core\n"
        "env:           -\n"
        "options:       -\n"
        "timeout:       30m\n"
        "attempts:      1 of 3\n"
        "machine:       agent-1 (m-1)\n"
        "exit code:     -\n"
        "turns:         0\n"
        "session:       -\n"
        "reported cost: -\n"
        "result:        -\n"
        "created:       2026-11-22T01:38:42.123Z (1m ago)\n"
        "assigned:      2026-11-22T01:38:49.000Z (53s ago)\n"
        "started:       2026-11-22T01:38:50.000Z (52s ago)\n"
        "finished:      -\n"
        "last log:      hi\n");
}

TEST_CASE("cli task show: a prompt shows as the prompt, new fields still show", "[cli]") {
  json::object t = Task();
  t["prompt"] = "fix\nit";
  t["zone"] = "eu";
  t["report"].as_object()["tokens"] = 12;
  const KeyValues lines = TaskDetails(t, kNowMs);
  CHECK(lines[5] == KeyValues::value_type{"prompt", "fix it"});
  CHECK(lines[lines.size() - 2] == KeyValues::value_type{"report.tokens", "12"});
  CHECK(lines.back() == KeyValues::value_type{"zone", "eu"});
}

TEST_CASE("cli task show: an unknown task exits 4", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-9", ApiError(404, "not_found", "no task t-9"));
  Outcome o = RunCli(ctl, {"task", "show", "t-9"});
  CHECK(o.exit_code == 4);
  CHECK(o.err == "autovibe: no task t-9\n");
}

TEST_CASE("cli task cancel: prints the id and state, a finished task is a conflict", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tasks/t-0123456789ab/cancel", JsonReply(200, TaskJson("cancelled")));
  Outcome o = RunCli(ctl, {"task", "cancel", "t-0123456789ab"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "t-0123456789ab cancelled\n");
  ctl.On("POST /v1/tasks/t-0123456789ab/cancel",
         ApiError(409, "conflict", "task t-0123456789ab already succeeded"));
  o = RunCli(ctl, {"task", "cancel", "t-0123456789ab"});
  CHECK(o.exit_code == 1);
  CHECK(o.err == "autovibe: 409 conflict: task t-0123456789ab already succeeded\n");
}

TEST_CASE("cli task: what a task does, on one line", "[cli]") {
  CHECK(ShellQuote("plain-word_1.txt") == "plain-word_1.txt");
  CHECK(ShellQuote("") == "''");
  CHECK(ShellQuote("a b") == "'a b'");
  CHECK(ShellQuote("it's") == "'it'\\''s'");
  json::object t{{"command", json::array{"sh", "-c", "echo  hi"}}};
  CHECK(TaskWhat(t) == "sh -c 'echo hi'");
  t["prompt"] = "  do\tthis\n\nnow ";
  CHECK(TaskWhat(t) == "do this now");
}

// --- logs ---

TEST_CASE("cli task logs: every page, agent notes on lines of their own", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1/logs?after=0",
         JsonReply(200, "{\"task_id\":\"t-1\",\"state\":\"running\",\"chunks\":[" +
                            Chunk(1, "stdout", "building") + "," +
                            Chunk(2, "agent", "checkpoint cp-1\nsecond note") +
                            "],\"next_after\":2,\"done\":false}"));
  ctl.On(
      "GET /v1/tasks/t-1/logs?after=2",
      JsonReply(200, "{\"task_id\":\"t-1\",\"state\":\"succeeded\",\"chunks\":[" +
                         Chunk(3, "stderr", "warning: x\n") + "],\"next_after\":3,\"done\":true}"));
  Outcome o = RunCli(ctl, {"task", "logs", "t-1"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "building\n"
        "[autovibe] checkpoint cp-1\n"
        "[autovibe] second note\n"
        "warning: x\n");

  Outcome j = RunCli(ctl, {"task", "logs", "t-1", "--json"});
  auto all = json::parse(j.out);
  CHECK(all.at("chunks").as_array().size() == 3);
  CHECK(all.at("state") == "succeeded");
  CHECK(all.at("done") == true);
}

TEST_CASE("cli task logs: a page without chunks ends the listing", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tasks/t-1/logs?after=0",
         JsonReply(200, "{\"chunks\":[" + Chunk(1, "stdout", "a\n") + "],\"next_after\":1}"));
  ctl.On("GET /v1/tasks/t-1/logs?after=1", JsonReply(200, R"({"chunks":[],"next_after":1})"));
  Outcome o = RunCli(ctl, {"task", "logs", "t-1"});
  CHECK(o.out == "a\n");
  CHECK(ctl.requests().size() == 2);
}

TEST_CASE("cli task logs -f: follows to the end across a dropped connection", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")), Event("log", Chunk(1, "stdout", "one\n")),
        Event("log", Chunk(2, "stdout", "two\n"))},
       MakeError(ErrorCode::kIo, "reading from ctl:8080: end of stream")});
  ctl.AddStream({{Event("state", State("running", "agent-1")),
                  Event("log", Chunk(2, "stdout", "two\n")),  // sent again: shown once
                  Event("log", Chunk(3, "agent", "done")), Event("end", Finished("succeeded", 0))},
                 SseReply{200, "text/event-stream", ""}});
  FakeTerminal term;
  Client client = ctl.MakeClient();
  std::ostringstream out;
  GlobalOptions options;
  CommandContext ctx{client, options, out, kNowMs};
  auto status = ShowTaskLogs(ctx, "t-1", true, term.Make(false));
  REQUIRE(status);
  CHECK(out.str() == "one\ntwo\n[autovibe] done\n");
  CHECK(ctl.requests() == std::vector<std::string>{"GET /v1/tasks/t-1/logs?follow=1&after=0",
                                                   "GET /v1/tasks/t-1/logs?follow=1&after=2"});
  CHECK(term.sleeps == std::vector<milliseconds>{milliseconds(250)});
  CHECK(term.err.str() ==
        "autovibe: lost the controller (cannot reach the controller at http://ctl:8080: reading "
        "from ctl:8080: end of stream (is it running? set --controller or AUTOVIBE_CONTROLLER)); "
        "reconnecting in 250ms\n");
}

TEST_CASE("cli task logs -f --json: one JSON line per event", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{Event("state", State("running")), Event("log", Chunk(1, "stdout", "x")),
                  Event("end", Finished("failed", 2))}});
  Outcome o = RunCli(ctl, {"task", "logs", "-f", "t-1", "--json"});
  CHECK(o.exit_code == 0);
  std::istringstream lines(o.out);
  std::vector<std::string> events;
  for (std::string line; std::getline(lines, line);) {
    events.push_back(std::string(json::parse(line).at("event").as_string()));
  }
  CHECK(events == std::vector<std::string>{"state", "log", "end"});
}

TEST_CASE("cli task logs -f: errors the controller answers with end the follow", "[cli]") {
  FakeController ctl;  // no streams: the follow gets a 404
  Outcome o = RunCli(ctl, {"task", "logs", "-f", "t-9"});
  CHECK(o.exit_code == 4);
  CHECK(o.err == "autovibe: no more streams\n");
  ctl.AddStream({{Event("log", "not json")}});
  o = RunCli(ctl, {"task", "logs", "-f", "t-9"});
  CHECK(o.exit_code == 1);
  CHECK_THAT(o.err, Catch::Contains("malformed \"log\" event: not json"));
}

TEST_CASE("cli follow: a restarting controller counts as unreachable", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{},
                 SseReply{503, "application/json",
                          R"({"error":{"code":"unavailable","message":"server is stopping"}})"}});
  auto status =
      ctl.MakeClient().Follow("/v1/tasks/t-1/logs?follow=1", [](const SseEvent&) { return true; });
  REQUIRE_FALSE(status);
  CHECK(status.error().exit_code == kExitUnreachable);
  CHECK_THAT(status.error().message, Catch::Contains("server is stopping"));
}

TEST_CASE("cli follow: an answer that is no event stream is an error, not a retry", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{}, SseReply{200, "application/json", R"({"chunks":[]})"}});
  Outcome o = RunCli(ctl, {"task", "logs", "-f", "t-1"});
  CHECK(o.exit_code == 1);
  CHECK(o.err ==
        "autovibe: the controller at http://ctl:8080 answered GET "
        "/v1/tasks/t-1/logs?follow=1&after=0 with \"application/json\", not an event stream: "
        "{\"chunks\":[]}\n");
  CHECK(ctl.requests().size() == 1);
}

TEST_CASE("cli follow: the backoff doubles from 250ms up to 5s", "[cli]") {
  std::vector<int64_t> delays;
  milliseconds d{0};
  for (int i = 0; i < 7; ++i) delays.push_back((d = NextBackoff(d)).count());
  CHECK(delays == std::vector<int64_t>{250, 500, 1000, 2000, 4000, 5000, 5000});
}

// --- wait ---

TEST_CASE("cli task wait: the exit code follows the task's end", "[cli]") {
  auto code = [](std::string state, json::value exit_code) {
    return TaskExitCode(json::parse(Finished(state, exit_code)).as_object());
  };
  CHECK(code("succeeded", 0) == 0);
  CHECK(code("succeeded", nullptr) == 0);
  CHECK(code("failed", 3) == 3);
  CHECK(code("failed", 255) == 255);
  CHECK(code("failed", 256) == 1);  // would wrap to 0
  CHECK(code("failed", -9) == 1);
  CHECK(code("failed", 0) == 1);
  CHECK(code("failed", nullptr) == 1);
  CHECK(code("cancelled", 143) == 1);
  CHECK(code("running", nullptr) == 1);
}

TEST_CASE("cli task wait: the progress line", "[cli]") {
  Progress p{.id = "t-1", .state = "queued", .elapsed_ms = 3'400};
  CHECK(FormatProgress(p, 80) == "t-1 queued, 3s");
  p = {.id = "t-1",
       .state = "running",
       .machine = "agent-1",
       .attempts = 2,
       .elapsed_ms = 72'000,
       .last_log = "compiling foo.c"};
  CHECK(FormatProgress(p, 80) == "t-1 running on agent-1 (attempt 2), 1m12s: compiling foo.c");
  CHECK(FormatProgress(p, 30) == "t-1 running on agent-1 (att...");
  CHECK(FormatProgress(p, 30).size() == 30);
  CHECK(FormatProgress(p, 39) == "t-1 running on agent-1 (attempt 2),...");
}

TEST_CASE("cli task wait: the last log line, cleaned for one terminal line", "[cli]") {
  CHECK(LastLogLine("one\ntwo\n\n") == "two");
  CHECK(LastLogLine("progress 10%\rprogress 90%") == "progress 90%");
  CHECK(LastLogLine("\x1b[1;31merror:\x1b[0m\tbad thing  \n") == "error: bad thing");
  CHECK(LastLogLine("bell\a here") == "bell here");
  CHECK(LastLogLine("\n \n") == "");
  CHECK(LastLogLine("") == "");
}

TEST_CASE("cli task wait: the outcome line", "[cli]") {
  auto outcome = [](std::string state, json::value code, std::string reason) {
    return FormatOutcome(json::parse(Finished(state, code, reason)).as_object(), 72'000);
  };
  CHECK(outcome("succeeded", 0, "") == "t-0123456789ab succeeded in 1m12s on agent-1");
  CHECK(outcome("failed", 3, "exit code 3") ==
        "t-0123456789ab failed with exit code 3 after 1m12s on agent-1: exit code 3");
  CHECK(outcome("cancelled", nullptr, "cancelled by user") ==
        "t-0123456789ab cancelled after 1m12s on agent-1: cancelled by user");
}

namespace {

// Submits with --wait against `ctl`, on a fake terminal; every event takes a second.
WaitRun SubmitAndWait(FakeController& ctl, FakeTerminal& term, bool tty, bool as_json = false,
                      WaitMode mode = WaitMode::kToEndOrPause) {
  return testing::SubmitAndWait(ctl, term, Queued(), tty, as_json, mode);
}

}  // namespace

TEST_CASE("cli task submit --wait: a line per state, then the outcome and exit code", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("queued", "", 0)), Event("state", State("assigned", "agent-1")),
        Event("state", State("running", "agent-1")),
        Event("log", Chunk(1, "stdout", "tests: 3 failed\n")),
        Event("end", Finished("failed", 3, "exit code 3"))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false);
  REQUIRE_FALSE(run.status);
  CHECK(run.status.error().exit_code == 3);
  CHECK(run.status.error().message.empty());  // the outcome line has said it
  CHECK(run.out == "t-0123456789ab\n");
  CHECK(term.err.str() ==
        "t-0123456789ab queued, 0s\n"  // the submit answer; the same state again is no news
        "t-0123456789ab assigned on agent-1, 2s\n"
        "t-0123456789ab running on agent-1, 3s\n"
        "t-0123456789ab failed with exit code 3 after 5s on agent-1: exit code 3\n");
}

TEST_CASE("cli task submit --wait: on a terminal, one line redrawn in place", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")),
        Event("log", Chunk(1, "stdout", "a very long line of output that will not fit\n")),
        Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, true);
  CHECK(run.status);
  CHECK(term.err.str() ==
        "\rt-0123456789ab queued, 0s\x1b[K"
        "\rt-0123456789ab running on agent-1, 1s\x1b[K"
        "\rt-0123456789ab running on agent-1, 2s: a very long line...\x1b[K"
        "\r\x1b[Kt-0123456789ab succeeded in 3s on agent-1\n");
}

TEST_CASE("cli task submit --wait: survives the controller going away and coming back", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")), Event("log", Chunk(1, "stdout", "step 1\n"))},
       SseReply{200, "text/event-stream", ""}});  // closed without "end"
  ctl.AddStream(
      {{}, MakeError(ErrorCode::kUnavailable, "cannot connect to ctl:8080: Connection refused")});
  ctl.AddStream(
      {{}, MakeError(ErrorCode::kUnavailable, "cannot connect to ctl:8080: Connection refused")});
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")), Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false);
  CHECK(run.status);
  CHECK(ctl.requests() ==
        std::vector<std::string>{"POST /v1/tasks",
                                 "GET /v1/tasks/t-0123456789ab/logs?follow=1&after=0",
                                 "GET /v1/tasks/t-0123456789ab/logs?follow=1&after=1",
                                 "GET /v1/tasks/t-0123456789ab/logs?follow=1&after=1",
                                 "GET /v1/tasks/t-0123456789ab/logs?follow=1&after=1"});
  CHECK(term.sleeps ==
        std::vector<milliseconds>{milliseconds(250), milliseconds(500), milliseconds(1000)});
  // One note for the outage, however many tries it takes.
  CHECK(term.err.str() ==
        "t-0123456789ab queued, 0s\n"
        "t-0123456789ab running on agent-1, 1s\n"
        "autovibe: lost the controller (the controller ended the stream early); reconnecting in "
        "250ms\n"
        "t-0123456789ab succeeded in 5s on agent-1\n");
}

TEST_CASE("cli task submit --wait: a pause says why at once and ends the wait with 75", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")), Event("log", Chunk(1, "stdout", "thinking\n")),
        Event("state", State("paused", "agent-1", 1, kBudgetPause)),
        // Never reached: the wait ended at the pause.
        Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false);
  REQUIRE_FALSE(run.status);
  CHECK(run.status.error().exit_code == kExitPaused);
  CHECK(run.status.error().message.empty());
  CHECK(term.err.str() ==
        "t-0123456789ab queued, 0s\n"
        "t-0123456789ab running on agent-1, 1s\n"
        "t-0123456789ab paused after 3s on agent-1: " +
            std::string(kBudgetPause) +
            "\n"
            "  it goes on when its project may spend again (autovibe budget set, autovibe "
            "project resume) or with: autovibe task resume t-0123456789ab\n"
            "  (--wait-through-pauses keeps waiting through a pause)\n");
}

TEST_CASE("cli task submit --wait --json: a pause prints the paused state", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{Event("state", State("paused", "agent-1", 1, kBudgetPause))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false, true);
  REQUIRE_FALSE(run.status);
  CHECK(run.status.error().exit_code == kExitPaused);
  const json::value printed = json::parse(run.out);
  CHECK(printed.at("id") == "t-0123456789ab");
  CHECK(printed.at("state") == "paused");
  CHECK(printed.at("reason") == kBudgetPause);
}

TEST_CASE("cli task submit --wait-through-pauses: tells the pause and the resumption", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")),
        Event("state", State("paused", "agent-1", 1, kBudgetPause)),
        Event("state", State("queued", "", 1)), Event("state", State("running", "agent-1", 2)),
        Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false, false, WaitMode::kThroughPauses);
  CHECK(run.status);
  CHECK(term.err.str() ==
        "t-0123456789ab queued, 0s\n"
        "t-0123456789ab running on agent-1, 1s\n"
        "t-0123456789ab paused after 2s on agent-1: " +
            std::string(kBudgetPause) +
            "\n"
            "  it goes on when its project may spend again (autovibe budget set, autovibe "
            "project resume) or with: autovibe task resume t-0123456789ab\n"
            "t-0123456789ab resumed: queued\n"
            "t-0123456789ab queued on agent-1, 3s\n"
            "t-0123456789ab running on agent-1 (attempt 2), 4s\n"
            "t-0123456789ab succeeded in 5s on agent-1\n");
}

TEST_CASE("cli task submit --wait: on a terminal the pause stays on the screen", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{Event("state", State("paused", "agent-1", 1, kBudgetPause))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, true);
  REQUIRE_FALSE(run.status);
  CHECK(run.status.error().exit_code == kExitPaused);
  const std::string err = term.err.str();
  // The progress line is cleared, the pause printed on lines of its own, and nothing redrawn
  // over it at the end.
  CHECK(err.find("\r\x1b[Kt-0123456789ab paused after 1s on agent-1: ") != std::string::npos);
  CHECK(err.substr(err.size() - 4) == "\r\x1b[K");
  CHECK(err.find("(--wait-through-pauses keeps waiting through a pause)\n") != std::string::npos);
}

TEST_CASE("cli task logs -f: a pause and its end are told on stderr", "[cli]") {
  FakeController ctl;
  ctl.AddStream(
      {{Event("state", State("running", "agent-1")), Event("log", Chunk(1, "stdout", "a\n")),
        Event("state", State("paused", "agent-1", 1, kBudgetPause)),
        Event("state", State("running", "agent-1", 2)), Event("log", Chunk(2, "stdout", "b\n")),
        Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  Client client = ctl.MakeClient();
  std::ostringstream out;
  GlobalOptions options;
  CommandContext ctx{client, options, out, kNowMs};
  REQUIRE(ShowTaskLogs(ctx, "t-1", true, term.Make(false)));
  CHECK(out.str() == "a\nb\n");
  CHECK(term.err.str() == "autovibe: task paused: " + std::string(kBudgetPause) +
                              "\nautovibe: task resumed: running\n");
}

TEST_CASE("cli task submit --wait --json: only the final task, as JSON", "[cli]") {
  FakeController ctl;
  ctl.AddStream({{Event("end", Finished("succeeded", 0))}});
  FakeTerminal term;
  WaitRun run = SubmitAndWait(ctl, term, false, true);
  CHECK(run.status);
  CHECK(json::parse(run.out) == json::parse(Finished("succeeded", 0)));
}

// --- short spellings ---

TEST_CASE("cli format: ages, elapsed times and truncation", "[cli]") {
  CHECK(FormatAge(kNowMs - 90'000, kNowMs) == "1m");
  CHECK(FormatAge(0, kNowMs) == "-");
  CHECK(FormatElapsed(0) == "0s");
  CHECK(FormatElapsed(59'999) == "59s");
  CHECK(FormatElapsed(72'000) == "1m12s");
  CHECK(FormatElapsed(2 * 3'600'000 + 3 * 60'000 + 5'000) == "2h3m");
  CHECK(FormatElapsed(-5) == "0s");
  CHECK(Truncate("abcdef", 6) == "abcdef");
  CHECK(Truncate("abcdefg", 6) == "abc...");
  CHECK(Truncate("h\xC3\xA9llo world", 6) == "h\xC3\xA9l...");
  CHECK(Truncate("abcdef", 2) == "..");
  CHECK(Truncate("ab  cdefgh", 7) == "ab...");
}

}  // namespace autovibe::cli
