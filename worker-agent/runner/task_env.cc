#include "worker-agent/runner/task_env.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/core/files.h"

namespace autovibe {
namespace {

constexpr size_t kMaxTaskId = 64;
constexpr const char* kFallbackPath = "/usr/local/bin:/usr/bin:/bin";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

std::string TakeSecretEnv(const char* name) {
  char* value = std::getenv(name);
  if (value == nullptr) return "";
  std::string out = value;
  // getenv points into the environment block the process was started with (unless someone
  // set the variable since): the bytes /proc/<pid>/environ shows.
  std::memset(value, 0, out.size());
  unsetenv(name);
  return out;
}

AgentEnvironment AgentEnvironment::FromProcess() {
  static const AgentEnvironment taken = [] {
    AgentEnvironment e;
    e.path = Env("PATH");
    e.home = Env("HOME");
    e.anthropic_api_key = TakeSecretEnv("ANTHROPIC_API_KEY");
    e.openai_api_key = TakeSecretEnv("OPENAI_API_KEY");
    return e;
  }();
  return taken;
}

std::map<std::string, std::string> TaskEnvironment(
    const v1::RunTask& task, const AgentEnvironment& agent,
    const std::map<std::string, std::string>& adapter_env) {
  std::map<std::string, std::string> env = {
      {"PATH", agent.path.empty() ? kFallbackPath : agent.path},
      {"LANG", "C.UTF-8"},
      {"TERM", "dumb"},
  };
  if (!agent.home.empty()) env["HOME"] = agent.home;
  for (const auto& [k, v] : task.env()) env[k] = v;
  for (const auto& [k, v] : adapter_env) env[k] = v;
  env["AUTOVIBE_TASK_ID"] = task.task_id();
  env["AUTOVIBE_PROJECT"] = task.project();
  return env;
}

bool ValidTaskId(std::string_view id) {
  if (id.empty() || id.size() > kMaxTaskId || id.find("..") != std::string_view::npos ||
      id == ".") {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string WorkspacesDir(const std::string& data_dir) { return data_dir + "/workspaces"; }

std::string WorkspacePath(const std::string& data_dir, const std::string& task_id) {
  return WorkspacesDir(data_dir) + "/" + task_id;
}

std::string TaskHomePath(const std::string& data_dir, const std::string& task_id) {
  return data_dir + "/homes/" + task_id;
}

Result<std::string> PrepareWorkspace(const std::string& data_dir, const std::string& task_id) {
  if (auto r = MakeDirs(WorkspacesDir(data_dir), 0700); !r) return r.error();
  const std::string dir = WorkspacePath(data_dir, task_id);
  if (auto r = MakeDirs(dir, 0700); !r) return r.error();
  return dir;
}

}  // namespace autovibe
