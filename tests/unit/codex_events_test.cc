// Reading `codex exec --json` output: lines captured from the real Codex CLI 0.171 run against a
// local Responses server (a tool call that wrote a file, then an answer; a 400 refusal; a 500
// retried until it gave up), judged by the codex adapter's run.
#include "worker-agent/tools/codex_events.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/catch_result.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe::tools {
namespace {

constexpr const char* kSucceeded =
    R"jsonl({"type":"thread.started","thread_id":"01a24b45-38b9-74a0-aa8d-aad3a5047246"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5.2-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc \"printf \\\"hello from codex\\\\n\\\" > hello.txt\"","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc \"printf \\\"hello from codex\\\\n\\\" > hello.txt\"","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":14,"reasoning_output_tokens":0}}
)jsonl";

constexpr const char* kRefused =
    R"jsonl({"type":"thread.started","thread_id":"01a24b45-5f17-7c61-8c76-e91a44dedb01"}
{"type":"turn.started"}
{"type":"error","message":"{\"error\": {\"message\": \"Budget usd of project demo is exhausted\", \"type\": \"insufficient_quota\", \"param\": null, \"code\": \"budget_exhausted\"}}"}
{"type":"turn.failed","error":{"message":"{\"error\": {\"message\": \"Budget usd of project demo is exhausted\", \"type\": \"insufficient_quota\", \"param\": null, \"code\": \"budget_exhausted\"}}"}}
)jsonl";

constexpr const char* kGaveUp =
    R"jsonl({"type":"thread.started","thread_id":"01a24b45-f486-74c0-919a-2cebf59ff0a2"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/1 (We’re currently experiencing high demand, which may cause temporary errors.)"}
{"type":"error","message":"We’re currently experiencing high demand, which may cause temporary errors."}
{"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, which may cause temporary errors."}}
)jsonl";

std::unique_ptr<ToolRun> CodexRun() {
  v1::RunTask task;
  task.set_task_id("t-1");
  task.set_tool("codex");
  task.set_prompt("Create hello.txt");
  auto launch = FindAdapter("codex")->Prepare(task, {});
  REQUIRE(launch);
  return std::move(launch->run);
}

// `text` fed in uneven pieces, as a pipe delivers it.
void Feed(ToolRun& run, std::string_view text) {
  for (size_t i = 0, n = 1; i < text.size(); i += n, n = n * 7 % 61 + 1) {
    run.OnStdout(text.substr(i, n));
  }
}

TEST_CASE("a codex run that completed its turn succeeds with its steps, session and tokens",
          "[tools][codex]") {
  auto run = CodexRun();
  Feed(*run, kSucceeded);
  const ToolVerdict v = run->Finish(0, 0);
  CHECK(v.outcome == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(v.reason.empty());
  CHECK(v.report.session_id() == "01a24b45-38b9-74a0-aa8d-aad3a5047246");
  CHECK(v.report.turns() == 2);  // the command, then the answer; the warning is no step
  CHECK(v.report.result_subtype() == "turn.completed");
  CHECK(v.report.reported_input_tokens() == 200);
  CHECK(v.report.reported_output_tokens() == 14);
  CHECK(v.report.reported_cache_read_tokens() == 0);
  CHECK(v.report.reported_cost_micros() == 0);  // Codex prices nothing itself
}

TEST_CASE("a codex run's failed turn fails with the provider's own words", "[tools][codex]") {
  auto refused = CodexRun();
  Feed(*refused, kRefused);
  const ToolVerdict r = refused->Finish(1, 0);
  CHECK(r.outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(r.reason == "codex failed: Budget usd of project demo is exhausted");
  CHECK(r.report.result_subtype() == "turn.failed");
  CHECK(r.report.turns() == 0);

  auto gave_up = CodexRun();
  Feed(*gave_up, kGaveUp);
  CHECK(gave_up->Finish(1, 0).reason ==
        "codex failed: We’re currently experiencing high demand, which may cause temporary "
        "errors.");
}

TEST_CASE("a codex run stopped mid-turn fails and says how, its progress shows before it ends",
          "[tools][codex]") {
  auto run = CodexRun();
  const std::string text = kSucceeded;
  // Everything up to the command's completion, the last line without its newline.
  const std::string cut = text.substr(0, text.find("{\"type\":\"item.completed\",\"item\":{\"id\":"
                                                   "\"item_2\"") -
                                             1);
  Feed(*run, cut);
  const v1::ToolReport so_far = run->Report();
  CHECK(so_far.session_id() == "01a24b45-38b9-74a0-aa8d-aad3a5047246");
  CHECK(so_far.turns() == 0);  // the command's line is not read before its newline...
  const ToolVerdict v = run->Finish(-1, SIGKILL);
  CHECK(v.report.turns() == 1);  // ...but is at the end
  CHECK(v.outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(v.reason == "codex ended without finishing its turn (killed by signal SIGKILL)");

  auto exited = CodexRun();
  Feed(*exited, kSucceeded);
  CHECK(exited->Finish(3, 0).reason == "codex finished its turn but ended with exit code 3");
}

TEST_CASE("codex usage is summed over turns in the ledger's terms, whatever else is printed",
          "[tools][codex]") {
  CodexTranscript t;
  t.OnStdout("Reading additional input from stdin...\n");
  t.OnStdout(R"({"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":)"
             R"(600,"cache_write_input_tokens":0,"output_tokens":50,"reasoning_output_tokens":20}})"
             "\n");
  t.OnStdout(R"({"type":"turn.completed","usage":{"input_tokens":-5,"output_tokens":"many"}})"
             "\n");
  t.OnStdout(R"({"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":1}})"
             "\n[1,2]\n{\"no\":\"type\"}\n");
  t.Finish();
  CHECK(t.usage().input == 410);  // (1000 - 600) + 10
  CHECK(t.usage().cache_read == 600);
  CHECK(t.usage().output == 51);  // reasoning tokens are part of the output already
  CHECK(t.turns_completed() == 3);
  CHECK(t.unparsed_lines() == 3);
  CHECK(t.last_turn_end() == "turn.completed");
}

}  // namespace
}  // namespace autovibe::tools
