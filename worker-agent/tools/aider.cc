// "aider": one non-interactive aider run on the prompt; judged by its exit code.
#include "worker-agent/tools/builtin.h"

namespace autovibe::tools {
namespace {

class AiderAdapterImpl final : public ToolAdapter {
 public:
  std::string_view name() const override { return "aider"; }
  std::string_view binary() const override { return "aider"; }

  Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access) const override {
    auto read = ReadPromptTask(name(), task, {"model"});
    if (!read) return read.error();
    const std::string& prompt = read->prompt;
    const std::optional<std::string>& model = read->model;

    ToolLaunch launch;
    // "--message=TEXT" rather than two words: argparse would take a prompt starting with '-'
    // for an option. Nobody answers questions, so --yes-always; the agent's checkpoints, not
    // aider's commits, record the work.
    launch.argv = {"aider",
                   "--message=" + prompt,
                   "--yes-always",
                   "--no-auto-commits",
                   "--no-check-update",
                   "--no-analytics",
                   "--no-pretty"};
    if (model) launch.argv.push_back("--model=" + *model);
    launch.env = ProviderEnv(access);
    // aider reaches OpenAI-compatible servers through litellm, which reads OPENAI_API_BASE.
    if (!access.openai_base_url.empty()) launch.env["OPENAI_API_BASE"] = access.openai_base_url;
    launch.run = MakeExitCodeRun();
    return launch;
  }
};

}  // namespace

const ToolAdapter& AiderAdapter() {
  static const AiderAdapterImpl adapter;
  return adapter;
}

}  // namespace autovibe::tools
