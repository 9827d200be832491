// "shell": runs the task's command as given (argv, no shell parsing); judged by its exit code.
#include "worker-agent/tools/builtin.h"

namespace autovibe::tools {
namespace {

class ShellAdapterImpl final : public ToolAdapter {
 public:
  std::string_view name() const override { return "shell"; }
  std::string_view binary() const override { return "sh"; }

  Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access) const override {
    if (task.command().empty() || task.command(0).empty()) {
      return BadTask(name(), "a command is required (argv, e.g. [\"make\", \"test\"])");
    }
    if (auto r = CheckOptionNames(name(), task, {}); !r) return r.error();
    ToolLaunch launch;
    launch.argv.assign(task.command().begin(), task.command().end());
    launch.env = ProviderEnv(access);
    launch.run = MakeExitCodeRun();
    return launch;
  }
};

}  // namespace

const ToolAdapter& ShellAdapter() {
  static const ShellAdapterImpl adapter;
  return adapter;
}

}  // namespace autovibe::tools
