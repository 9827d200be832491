#include "worker-agent/host/tools.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace autovibe::host {
namespace {

struct ToolBinary {
  std::string_view tool;    // the name tasks use
  std::string_view binary;  // what must be on PATH
};

// The same pairs as the adapters' name() and binary() (worker-agent/tools); host/ stays free of
// protobuf, so it keeps its own copy.
constexpr std::array<ToolBinary, 3> kToolBinaries = {{
    {"claude-code", "claude"},
    {"aider", "aider"},
    {"codex", "codex"},
}};
constexpr std::string_view kShell = "shell";

// access(X_OK) rather than mode bits, so the answer matches what exec will allow this user.
bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::vector<std::string> FindTools(std::string_view path_env) {
  std::vector<std::string> tools = {std::string(kShell)};
  while (true) {
    const size_t colon = path_env.find(':');
    const std::string_view dir = path_env.substr(0, colon);
    // Empty and relative entries name the current directory, which for a task is its
    // workspace, not where the agent looked: a tool found there may be gone when the task runs.
    if (!dir.empty() && dir.front() == '/') {
      for (const ToolBinary& t : kToolBinaries) {
        std::string path = std::string(dir) + "/" + std::string(t.binary);
        if (IsExecutableFile(path)) tools.emplace_back(t.tool);
      }
    }
    if (colon == std::string_view::npos) break;
    path_env.remove_prefix(colon + 1);
  }
  std::sort(tools.begin(), tools.end());
  tools.erase(std::unique(tools.begin(), tools.end()), tools.end());
  return tools;
}

std::vector<std::string> FindTools() {
  const char* path = std::getenv("PATH");
  return FindTools(path == nullptr ? std::string_view() : std::string_view(path));
}

}  // namespace autovibe::host
