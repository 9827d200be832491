// Supervises one tool process: its own process group, a clean environment, resource limits,
// a timeout, cancel with a grace period, and output read without ever blocking the agent.
//
// Runs on the caller's io_context; every method and callback is on that thread.
//
// The tool is started by a small "keeper" process forked from the agent (tool_keeper.h): it
// is the tool's parent and a child subreaper, so it can kill the tool's group and anything
// that left it (setsid, double fork) when the tool ends, is cancelled, or the agent dies —
// kill -9 included. What still escapes: processes started outside the tool's process tree
// (through a daemon such as systemd, at or dockerd).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

// Limits applied to the tool with setrlimit before exec. 0 leaves a limit as inherited.
struct ResourceLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU
  uint64_t file_size_bytes = 0;      // RLIMIT_FSIZE
  uint64_t open_files = 4096;        // RLIMIT_NOFILE
  uint64_t processes = 0;            // RLIMIT_NPROC
  bool no_core_dumps = true;         // RLIMIT_CORE = 0
};

enum class OutputStream { kStdout, kStderr };

namespace runner {
struct BoxLaunch;  // runner/task_box.h
}

struct ToolProcessOptions {
  std::vector<std::string> argv;             // argv[0] is looked up in env's PATH
  std::map<std::string, std::string> env;    // the whole environment; nothing is inherited
  std::string cwd;                           // must exist
  Duration timeout{0};                       // 0: none
  Duration grace = std::chrono::seconds(5);  // SIGTERM to the group, then SIGKILL
  ResourceLimits limits;
  size_t max_output_bytes = 16 << 20;  // beyond this output is read and dropped
  // Sees what is dropped past max_output_bytes (e.g. a parser that must read a transcript to
  // its end); must not keep it.
  std::function<void(OutputStream, std::string_view)> on_dropped_output;
  // Runs the tool in a box (runner/task_box.h); null: as the agent's own user, unboxed.
  std::shared_ptr<const runner::BoxLaunch> box;
  // Kept until the tool's keeper is reaped, every process of the tool gone (a task user's
  // lease, its cgroup), even when the ToolProcess is dropped before that.
  std::shared_ptr<void> keep_until_reaped;
};

struct ToolExit {
  int exit_code = -1;  // the tool's exit code; -1 when killed by a signal
  int signal = 0;      // the signal that killed it (SIGKILL when that is all that is known)
  bool timed_out = false;
  bool cancelled = false;
  uint64_t output_bytes_dropped = 0;  // read past max_output_bytes and thrown away
  Duration wall{0};                   // from StartToolProcess to the tool's exit
};

class ToolProcess {
 public:
  using OutputHandler = std::function<void(OutputStream, std::string_view)>;
  using ExitHandler = std::function<void(const ToolExit&)>;

  virtual ~ToolProcess() = default;

  // The tool's pid, which is also its process group id.
  virtual pid_t pid() const = 0;
  // SIGTERM to the whole process group; SIGKILL to it after the grace period. Idempotent; a
  // timeout does the same. The exit then says cancelled (or timed_out), whichever came first.
  virtual void Cancel() = 0;
};

// Starts the tool. `on_output` gets raw chunks as they are read (at most max_output_bytes in
// total); `on_exit` is called once, after the tool exited, every process it left behind was
// killed and all output was delivered (a pipe still held open by something outside the tool's
// tree is given up on after a second). Destroying the ToolProcess before that kills the group
// with SIGKILL and calls nothing more; either callback may destroy it. If the agent dies, the
// tool's group is killed.
//
// Blocks the calling thread until the tool has been exec'd (milliseconds). A tool that cannot
// start is an error, never an on_exit: "bad_task" (empty or malformed command or environment,
// a file the kernel cannot execute), "not_found" (binary not on the environment's PATH, or no
// working directory), "unavailable" (out of processes or descriptors, limits refused).
Result<std::unique_ptr<ToolProcess>> StartToolProcess(boost::asio::io_context& ioc,
                                                      ToolProcessOptions options,
                                                      ToolProcess::OutputHandler on_output,
                                                      ToolProcess::ExitHandler on_exit);

}  // namespace autovibe
