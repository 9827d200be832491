// "codex": one non-interactive `codex exec` run on the prompt; judged by its exit code.
#include "worker-agent/tools/builtin.h"

namespace autovibe::tools {
namespace {

class CodexAdapterImpl final : public ToolAdapter {
 public:
  std::string_view name() const override { return "codex"; }
  std::string_view binary() const override { return "codex"; }

  Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access) const override {
    auto read = ReadPromptTask(name(), task, {"model"});
    if (!read) return read.error();
    const std::string& prompt = read->prompt;
    const std::optional<std::string>& model = read->model;

    // `codex exec` never asks for approval, but is read-only by default: workspace-write lets
    // it edit the workspace (and only that). A workspace need not be a git checkout.
    ToolLaunch launch;
    launch.argv = {"codex", "exec", "--skip-git-repo-check", "--sandbox", "workspace-write"};
    if (model) launch.argv.insert(launch.argv.end(), {"--model", *model});
    // After "--" a prompt starting with '-' stays the prompt.
    launch.argv.insert(launch.argv.end(), {"--", prompt});
    launch.env = ProviderEnv(access);
    launch.run = MakeExitCodeRun();
    return launch;
  }
};

}  // namespace

const ToolAdapter& CodexAdapter() {
  static const CodexAdapterImpl adapter;
  return adapter;
}

}  // namespace autovibe::tools
