// Judging a Claude Code run from its stream-json transcript.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/support/catch_result.h"
#include "worker-agent/tools/adapter.h"
#include "worker-agent/tools/stream_json.h"

namespace autovibe::tools {
namespace {

// Shortened from a real `claude -p --output-format stream-json --verbose` run (2.1.197): the
// first message comes as two lines (text, then the tool call) with the same id.
const std::string kSession = "fd40d731-872f-46cf-bcfe-eecbec64951a";
const std::string kInit =
    R"({"type":"system","subtype":"init","cwd":"/w","session_id":")" + kSession +
    R"(","tools":["Task","Bash","Write"],"model":"claude-opus-4-8[1m]","permissionMode":"bypassPermissions","apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.197"})";
const std::string kText1 =
    R"({"type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"text","text":"I will write hello.txt."}],"stop_reason":null,"usage":{"input_tokens":1907,"cache_creation_input_tokens":17169,"cache_read_input_tokens":0,"output_tokens":1}},"parent_tool_use_id":null,"session_id":")" +
    kSession + R"("})";
const std::string kTool1 =
    R"({"type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"tool_use","id":"toolu_01","name":"Write","input":{"file_path":"/w/hello.txt","content":"hello world\n"}}],"stop_reason":null},"parent_tool_use_id":null,"session_id":")" +
    kSession + R"("})";
const std::string kResult1 =
    R"({"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_01","type":"tool_result","content":"File created successfully at: /w/hello.txt"}]},"parent_tool_use_id":null,"session_id":")" +
    kSession + R"("})";
const std::string kText2 =
    R"({"type":"assistant","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"text","text":"I wrote the file."}]},"parent_tool_use_id":null,"session_id":")" +
    kSession + R"("})";

std::string ResultLine(const std::string& subtype, bool is_error, int turns,
                       const std::string& cost, const std::string& result) {
  return R"({"type":"result","subtype":")" + subtype + R"(","is_error":)" +
         (is_error ? "true" : "false") + R"(,"duration_ms":266,"num_turns":)" +
         std::to_string(turns) + R"(,"result":")" + result +
         R"(","stop_reason":"end_turn","session_id":")" + kSession + R"(","total_cost_usd":)" +
         cost +
         R"(,"usage":{"input_tokens":3825,"cache_creation_input_tokens":17169,"cache_read_input_tokens":17264,"output_tokens":20},"permission_denials":[]})";
}

std::string Transcript(const std::string& result_line) {
  return kInit + "\n" + kText1 + "\n" + kTool1 + "\n" + kResult1 + "\n" + kText2 + "\n" +
         result_line + "\n";
}

// A claude-code run of a task with the given options, fed `out` in `chunk`-byte pieces.
ToolVerdict Judge(const std::string& out, int exit_code, int signal = 0, size_t chunk = 4096,
                  const std::map<std::string, std::string>& options = {}) {
  v1::RunTask task;
  task.set_tool("claude-code");
  task.set_prompt("write hello.txt");
  for (const auto& [k, v] : options) (*task.mutable_options())[k] = v;
  auto launch = FindAdapter("claude-code")->Prepare(task, {});
  REQUIRE(launch);
  for (size_t i = 0; i < out.size(); i += chunk) launch->run->OnStdout(out.substr(i, chunk));
  return launch->run->Finish(exit_code, signal);
}

TEST_CASE("claude-code: a successful transcript gives turns, session and cost", "[tools]") {
  const std::string out = Transcript(ResultLine("success", false, 2, "0.13556325", "I wrote it."));
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{100}, out.size()}) {
    INFO("chunk " << chunk);
    ToolVerdict v = Judge(out, 0, 0, chunk);
    CHECK(v.outcome == v1::TASK_OUTCOME_SUCCEEDED);
    CHECK(v.reason.empty());
    CHECK(v.report.turns() == 2);
    CHECK(v.report.session_id() == kSession);
    CHECK(v.report.reported_cost_micros() == 135563);
    CHECK(v.report.result_subtype() == "success");
  }
}

TEST_CASE("claude-code: turns are counted from assistant messages when num_turns is absent",
          "[tools]") {
  ClaudeTranscript t;
  const std::string subagent =
      R"({"type":"assistant","message":{"id":"msg_sub","content":[]},"parent_tool_use_id":"toolu_01","session_id":"s"})";
  t.OnStdout(kInit + "\n" + kText1 + "\n" + kTool1 + "\n" + subagent + "\n" + kResult1 + "\n" +
             kText2);  // no newline at the end: Finish reads it
  CHECK(t.assistant_turns() == 1);
  t.Finish();
  CHECK(t.assistant_turns() == 2);
  CHECK(t.session_id() == kSession);
  CHECK_FALSE(t.result().has_value());
}

TEST_CASE("claude-code: reaching max turns fails and says so", "[tools]") {
  const std::string out = Transcript(ResultLine("error_max_turns", true, 4, "0.5", ""));
  ToolVerdict v = Judge(out, 1, 0, 4096, {{"max_turns", "3"}});
  CHECK(v.outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(v.reason == "claude-code stopped after reaching max turns (3)");
  CHECK(v.report.result_subtype() == "error_max_turns");
  CHECK(v.report.turns() == 4);
  CHECK(v.report.reported_cost_micros() == 500000);
  // Without the option, the number of turns it took.
  CHECK(Judge(out, 1).reason == "claude-code stopped after reaching max turns (4)");
}

TEST_CASE("claude-code: error results fail with the CLI's own words", "[tools]") {
  CHECK(
      Judge(Transcript(ResultLine("success", true, 1, "0", "API Error: 401 invalid x-api-key")), 1)
          .reason == "claude-code reported an error: API Error: 401 invalid x-api-key");
  CHECK(Judge(Transcript(ResultLine("success", false, 2, "0.1", "done")), 3).reason ==
        "claude-code reported success but exited with code 3");
  const std::string during =
      R"({"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":1,"total_cost_usd":0,"errors":["Tool crashed"],"session_id":"s"})";
  CHECK(Judge(during + "\n", 1).reason == "claude-code failed during execution: Tool crashed");
  CHECK(Judge(Transcript(ResultLine("error_brand_new", true, 1, "0", "")), 1).reason ==
        "claude-code ended with result \"error_brand_new\"");
  const std::string long_text(1000, 'x');
  CHECK(Judge(Transcript(ResultLine("success", true, 1, "0", long_text)), 1).reason.size() < 400);
}

TEST_CASE("claude-code: no result line fails with the exit code or signal", "[tools]") {
  ToolVerdict v = Judge(kInit + "\n" + kText1 + "\n", 1);
  CHECK(v.outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(v.reason == "claude-code ended without a result (exit code 1)");
  CHECK(v.report.session_id() == kSession);
  CHECK(v.report.turns() == 1);
  CHECK(Judge("", -1, 9).reason == "claude-code ended without a result (killed by signal SIGKILL)");
  // A clean exit without a result is no success either.
  CHECK(Judge("not json\n", 0).outcome == v1::TASK_OUTCOME_FAILED);
}

TEST_CASE("claude-code: noise and over-long lines are skipped, not fatal", "[tools]") {
  ClaudeTranscript t;
  t.OnStdout("warning: something on stdout\r\n[1,2]\n");
  const std::string huge(ClaudeTranscript::kMaxLineBytes + 10, 'x');
  t.OnStdout(huge.substr(0, 3 << 20));
  t.OnStdout(huge.substr(3 << 20) + "\n" + ResultLine("success", false, 1, "0.000001", "ok") +
             "\r\n");
  t.Finish();
  CHECK(t.unparsed_lines() == 2);
  CHECK(t.skipped_lines() == 1);
  REQUIRE(t.result().has_value());
  CHECK(t.result()->cost_micros == 1);
  CHECK(t.result()->num_turns == 1u);
}

TEST_CASE("LineSplitter cuts lines across chunks and drops over-long ones", "[tools]") {
  LineSplitter split(8);
  std::vector<std::string> lines;
  auto keep = [&](std::string_view l) { lines.emplace_back(l); };
  split.Feed("ab", keep);
  split.Feed("c\nde", keep);
  split.Feed("f\r\n\n123456789", keep);
  split.Feed("0\nshort\nlast", keep);
  split.Flush(keep);
  CHECK(lines == std::vector<std::string>{"abc", "def", "short", "last"});
  CHECK(split.skipped_lines() == 1);
}

TEST_CASE("UsdToMicros rounds to the nearest micro-dollar and refuses nonsense", "[tools]") {
  CHECK(UsdToMicros(0) == 0);
  CHECK(UsdToMicros(0.13556325) == 135563);
  CHECK(UsdToMicros(0.0000005) == 1);
  CHECK(UsdToMicros(0.0000004) == 0);
  CHECK(UsdToMicros(12.3456789) == 12345679);
  CHECK(UsdToMicros(-1) == 0);
  CHECK(UsdToMicros(1e7) == 0);
  CHECK(UsdToMicros(std::nan("")) == 0);
  CHECK(UsdToMicros(INFINITY) == 0);
}

}  // namespace
}  // namespace autovibe::tools
