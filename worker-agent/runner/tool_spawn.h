// Starting a tool under its keeper (see tool_keeper.h): argument checks, PATH lookup, pipes,
// fork, and the start handshake. The asynchronous supervision lives in tool_process.cc.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "common/core/result.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe::runner {

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  int Release();
  void Reset();

 private:
  int fd_ = -1;
};

struct SpawnedTool {
  pid_t keeper = -1;  // our child; signal it, never the tool's group directly
  pid_t tool = -1;    // also the tool's process group id
  UniqueFd out;       // read ends, non-blocking and close-on-exec
  UniqueFd err;
  UniqueFd status;  // the tool's wait status (4 bytes) once its whole tree is dead, then EOF
};

// Where `name` would be exec'd from: as is when it has a slash (relative to `cwd`), else the
// first executable regular file in `env`'s PATH (empty entries meaning `cwd`). Error
// "not_found" when there is none.
Result<std::string> ResolveToolBinary(const std::string& name,
                                      const std::map<std::string, std::string>& env,
                                      const std::string& cwd);

// Forks the keeper, which starts the tool, and waits until the tool has been exec'd (a few
// milliseconds; the caller's thread blocks meanwhile). Errors: "bad_task" (empty or malformed
// command or environment, a binary the kernel cannot run), "not_found" (binary or working
// directory missing), "unavailable" (out of processes or descriptors, limits refused).
Result<SpawnedTool> SpawnTool(const ToolProcessOptions& options);

}  // namespace autovibe::runner
