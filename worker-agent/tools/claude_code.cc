// "claude-code": Claude Code in print mode, unattended, with a stream-json transcript on stdout
// from which the run is judged (result subtype, turns, session, the CLI's cost estimate).
#include "worker-agent/tools/builtin.h"
#include "worker-agent/tools/stream_json.h"

namespace autovibe::tools {
namespace {

constexpr std::string_view kTool = "claude-code";

// Why a run that printed a result line did not succeed, in words a user understands.
std::string FailureReason(const ClaudeResult& r, std::optional<uint32_t> max_turns, int exit_code) {
  const std::string detail = !r.errors.empty() ? Quote(r.errors.front()) : Quote(r.result);
  const std::string suffix = detail.empty() ? "" : ": " + detail;
  if (r.subtype == "success" && r.is_error) return "claude-code reported an error" + suffix;
  if (r.subtype == "success") {
    return "claude-code reported success but exited with code " + std::to_string(exit_code);
  }
  if (r.subtype == "error_max_turns") {
    const uint32_t turns = max_turns.value_or(r.num_turns.value_or(0));
    return "claude-code stopped after reaching max turns (" + std::to_string(turns) + ")";
  }
  if (r.subtype == "error_during_execution") {
    return "claude-code failed during execution" + suffix;
  }
  if (r.subtype == "error_max_budget_usd") {
    return "claude-code stopped after reaching its own spending limit";
  }
  if (r.subtype == "error_max_structured_output_retries") {
    return "claude-code could not produce the requested structured output";
  }
  return "claude-code ended with result \"" + Quote(r.subtype) + "\"" + suffix;
}

class ClaudeCodeRun final : public ToolRun {
 public:
  explicit ClaudeCodeRun(std::optional<uint32_t> max_turns) : max_turns_(max_turns) {}

  void OnStdout(std::string_view data) override { transcript_.OnStdout(data); }

  v1::ToolReport Report() const override {
    v1::ToolReport report;
    report.set_session_id(transcript_.session_id());
    report.set_turns(transcript_.assistant_turns());
    return report;
  }

  ToolVerdict Finish(int exit_code, int signal) override {
    transcript_.Finish();
    ToolVerdict verdict;
    const std::optional<ClaudeResult>& result = transcript_.result();
    v1::ToolReport& report = verdict.report;
    report.set_session_id(transcript_.session_id());
    report.set_turns(transcript_.assistant_turns());
    if (!result) {
      verdict.reason = "claude-code ended without a result (" +
                       (signal != 0 ? "killed by signal " + SignalName(signal)
                                    : "exit code " + std::to_string(exit_code)) +
                       ")";
      return verdict;
    }
    if (result->num_turns) report.set_turns(*result->num_turns);
    report.set_reported_cost_micros(result->cost_micros);
    report.set_result_subtype(result->subtype);
    if (result->subtype == "success" && !result->is_error && exit_code == 0 && signal == 0) {
      verdict.outcome = v1::TASK_OUTCOME_SUCCEEDED;
    } else {
      verdict.reason = FailureReason(*result, max_turns_, exit_code);
    }
    return verdict;
  }

 private:
  std::optional<uint32_t> max_turns_;
  ClaudeTranscript transcript_;
};

class ClaudeCodeAdapterImpl final : public ToolAdapter {
 public:
  std::string_view name() const override { return kTool; }
  std::string_view binary() const override { return "claude"; }

  Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access) const override {
    auto read = ReadPromptTask(kTool, task, {"model", "max_turns"});
    if (!read) return read.error();
    const std::string& prompt = read->prompt;
    const std::optional<std::string>& model = read->model;
    auto max_turns = PositiveIntOption(kTool, task, "max_turns");
    if (!max_turns) return max_turns.error();

    ToolLaunch launch;
    // The tool runs unattended in its own workspace, so nobody could grant a permission.
    launch.argv = {"claude",      "-p",        "--output-format",
                   "stream-json", "--verbose", "--dangerously-skip-permissions"};
    if (*max_turns)
      launch.argv.insert(launch.argv.end(), {"--max-turns", std::to_string(**max_turns)});
    if (model) launch.argv.insert(launch.argv.end(), {"--model", *model});
    // A paused task continues its conversation in the same workspace.
    const bool resume = task.resume() && !task.resume_session().empty();
    if (resume) launch.argv.insert(launch.argv.end(), {"--resume", task.resume_session()});
    // After "--" a prompt starting with '-' stays the prompt.
    launch.argv.insert(launch.argv.end(), {"--", resume ? ResumePrompt(prompt) : prompt});

    launch.env = ProviderEnv(access);
    // As root, claude refuses --dangerously-skip-permissions unless told it runs in a sandbox.
    launch.env["IS_SANDBOX"] = "1";
    // No auto-update, telemetry, error reports or other calls beyond the model API: a worker's
    // tool must not change under a task, and its traffic should go through the metered URL.
    launch.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1";
    launch.env["DISABLE_AUTOUPDATER"] = "1";
    launch.env["DISABLE_TELEMETRY"] = "1";
    launch.env["DISABLE_ERROR_REPORTING"] = "1";
    launch.run = std::make_unique<ClaudeCodeRun>(*max_turns);
    return launch;
  }
};

}  // namespace

const ToolAdapter& ClaudeCodeAdapter() {
  static const ClaudeCodeAdapterImpl adapter;
  return adapter;
}

}  // namespace autovibe::tools
