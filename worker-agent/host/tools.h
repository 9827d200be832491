// Which coding tools this host can run, as reported to the controller at registration.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autovibe::host {

// The tool names found in the colon-separated directory list `path_env`, sorted and without
// duplicates. Tools are named as tasks name them ("claude-code", "aider", "codex"); a tool
// counts as found when some listed directory holds an executable regular file named as its
// binary ("claude", "aider", "codex"; symlinks are followed). "shell" is always included:
// every host can run a plain command.
std::vector<std::string> FindTools(std::string_view path_env);

// The same for this process's PATH (none set means only "shell").
std::vector<std::string> FindTools();

}  // namespace autovibe::host
