// "codex": the Codex CLI's `codex exec --json`, unattended, with a Codex home of the task's own
// whose config.toml points its provider at the metering proxy; the run is judged from its JSON
// events (codex_events.h): turns, outcome, the tokens it says it used.
#include <cstdio>

#include "worker-agent/tools/builtin.h"
#include "worker-agent/tools/codex_events.h"

namespace autovibe::tools {
namespace {

constexpr std::string_view kCodex = "codex";
// Codex's own default model is whatever its release prefers, which the price table may not
// know yet (the proxy refuses an unpriced model): a task names another with option "model".
constexpr std::string_view kDefaultModel = "gpt-5.1-codex";
// The Codex home, under the task's home (never its workspace: no checkpoint carries it).
constexpr std::string_view kCodexHome = "codex";

// `text` as a TOML basic string.
std::string TomlBasicString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The task's $CODEX_HOME/config.toml. Codex ignores OPENAI_BASE_URL; a provider of its own
// reaches the proxy, with the task's token from OPENAI_API_KEY (env_key). Everything that would
// call elsewhere is off: update checks, analytics (ab.chatgpt.com), plugins and apps
// (api.github.com, chatgpt.com), OpenTelemetry export, the WebSocket transport, and the hosted
// web search tool. Every key here is one Codex 0.171 accepts under --strict-config.
std::string CodexConfig(const ProviderAccess& access) {
  std::string toml =
      "# Written by the autovibe agent for one task.\n"
      "check_for_update_on_startup = false\n"
      "web_search = \"disabled\"\n";
  if (!access.openai_base_url.empty()) toml += "model_provider = \"autovibe\"\n";
  toml +=
      "\n[analytics]\nenabled = false\n"
      "\n[feedback]\nenabled = false\n"
      "\n[history]\npersistence = \"none\"\n"
      "\n[otel]\nexporter = \"none\"\nmetrics_exporter = \"none\"\ntrace_exporter = \"none\"\n"
      "\n[features]\nplugins = false\nremote_plugin = false\napps = false\n";
  if (!access.openai_base_url.empty()) {
    toml +=
        "\n[model_providers.autovibe]\n"
        "name = \"autovibe metering proxy\"\n"
        "base_url = " +
        TomlBasicString(access.openai_base_url) +
        "\n"
        "env_key = \"OPENAI_API_KEY\"\n"
        "wire_api = \"responses\"\n"
        "supports_websockets = false\n";
  }
  return toml;
}

// Why a run did not succeed, in words a user understands.
std::string CodexFailureReason(const CodexTranscript& t, int exit_code, int signal) {
  const std::string how = signal != 0 ? "killed by signal " + SignalName(signal)
                                      : "exit code " + std::to_string(exit_code);
  const std::string cause = t.error().empty() ? "" : ": " + Quote(t.error());
  if (t.last_turn_end() == "turn.failed") return "codex failed" + cause;
  if (t.last_turn_end() == "turn.completed") return "codex finished its turn but ended with " + how;
  return "codex ended without finishing its turn (" + how + ")" + cause;
}

class CodexRun final : public ToolRun {
 public:
  void OnStdout(std::string_view data) override { transcript_.OnStdout(data); }

  v1::ToolReport Report() const override {
    v1::ToolReport report;
    report.set_session_id(transcript_.thread_id());
    report.set_turns(transcript_.steps());
    const CodexUsage& u = transcript_.usage();
    report.set_reported_input_tokens(u.input);
    report.set_reported_output_tokens(u.output);
    report.set_reported_cache_read_tokens(u.cache_read);
    report.set_reported_cache_write_tokens(u.cache_write);
    return report;
  }

  ToolVerdict Finish(int exit_code, int signal) override {
    transcript_.Finish();
    ToolVerdict verdict;
    verdict.report = Report();
    verdict.report.set_result_subtype(transcript_.last_turn_end());
    if (transcript_.last_turn_end() == "turn.completed" && exit_code == 0 && signal == 0) {
      verdict.outcome = v1::TASK_OUTCOME_SUCCEEDED;
    } else {
      verdict.reason = CodexFailureReason(transcript_, exit_code, signal);
    }
    return verdict;
  }

 private:
  CodexTranscript transcript_;
};

class CodexAdapterImpl final : public ToolAdapter {
 public:
  std::string_view name() const override { return kCodex; }
  std::string_view binary() const override { return "codex"; }

  Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access) const override {
    auto read = ReadPromptTask(kCodex, task, {"model"});
    if (!read) return read.error();
    const std::string model = read->model.value_or(std::string(kDefaultModel));

    ToolLaunch launch;
    // Nobody could approve a command, and the agent's box (its own user, namespaces and
    // workspace) is the sandbox: Codex's own needs helper binaries and user namespaces that a
    // box does not give. A workspace need not be a git checkout.
    launch.argv = {"codex", "exec", "--json", "--color", "never", "--skip-git-repo-check",
                   "--dangerously-bypass-approvals-and-sandbox", "--model", model,
                   // After "--" a prompt starting with '-' stays the prompt.
                   "--", task.resume() ? ResumePrompt(read->prompt) : read->prompt};
    launch.env = ProviderEnv(access);
    launch.files.push_back({std::string(kCodexHome) + "/config.toml", CodexConfig(access)});
    launch.home_dirs["CODEX_HOME"] = kCodexHome;
    launch.run = std::make_unique<CodexRun>();
    return launch;
  }
};

}  // namespace

const ToolAdapter& CodexAdapter() {
  static const CodexAdapterImpl adapter;
  return adapter;
}

}  // namespace autovibe::tools
