// Boxing the agent's tasks (README.md, "Security: what a task can and cannot reach"): each
// task's tool runs as a task user of its own (its uid lent for the run), with its own HOME,
// in its own PID, IPC, UTS and mount namespaces made by bubblewrap, under cgroup v2 limits
// where the host delegates them, with a proxy-only network when asked for.
//
// The agent makes one TaskBoxes; TaskManager asks it for each task's BoxLaunch. Its methods are
// for the agent's owner thread; handing a workspace over (chown of every file) runs on threads
// of its own, and its answer comes back to the owner thread.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/box/box_settings.h"
#include "worker-agent/box/bwrap_args.h"
#include "worker-agent/box/cgroups.h"
#include "worker-agent/box/uid_pool.h"
#include "worker-agent/runner/tool_spawn.h"

namespace autovibe::runner {

// What SpawnTool needs to start one boxed tool (see KeeperBox).
struct BoxLaunch {
  std::vector<std::string> bwrap_args;  // up to "--": the tool's path and arguments follow
  uid_t uid = 0;
  gid_t gid = 0;
  std::string stage;
  std::vector<std::pair<std::string, std::string>> binds;  // source -> where staged
  UniqueFd passwd, group;                                  // memfds bwrap reads
  std::string cgroup_procs;                                // empty: no cgroup
  bool own_network = false;
  uint16_t proxy_port = 0;
  UniqueFd listener_channel;  // the keeper's end (proxy-only)
};

// One boxed task, made ready.
struct BoxedTask {
  std::shared_ptr<const BoxLaunch> launch;
  std::shared_ptr<void> hold;  // the uid and cgroup: keep until the tool is reaped
  std::string home;            // HOME inside (and outside) the box
  UniqueFd listener_channel;   // the agent's end: the proxy's listening socket arrives here
};

struct TaskBoxesOptions {
  box::BoxSettings settings;
  std::string data_dir;
  uint32_t slots = 1;
  // Files masked inside every box though under a system path (the agent's config, key files).
  std::vector<std::string> hidden_files;
};

class TaskBoxes {
 public:
  using BoxReady = std::function<void(Result<BoxedTask>)>;

  // Reads the host once: bwrap, the system paths, cgroup v2 (logged: which limits hold), and
  // which task users still own processes (box/uid_pool.h). `owner` runs the agent's owner
  // thread and must outlive the TaskBoxes.
  TaskBoxes(boost::asio::io_context& owner, TaskBoxesOptions options);
  // Waits for a workspace being handed over; those queued behind it are dropped, unanswered.
  ~TaskBoxes();
  TaskBoxes(const TaskBoxes&) = delete;
  TaskBoxes& operator=(const TaskBoxes&) = delete;

  // Lends the task a uid, makes its cgroup, gives it its workspace and HOME
  // (<data_dir>/homes/<task id>). The workspace may be a restored checkpoint of tens of
  // thousands of files: it is handed over on a thread of the TaskBoxes, and `done` runs on the
  // owner thread once it is (never before Prepare returns). `proxy_port`: the metering proxy's
  // port, for a proxy-only network. Errors: "bad_task" with what to do when bwrap is missing,
  // "busy" when every task user is lent (or still owns a process of an earlier run of the
  // agent), "io" when the workspace cannot be handed over.
  void Prepare(const std::string& task_id, const std::string& workspace, uint16_t proxy_port,
               BoxReady done);

  // The limits a boxed tool gets: `configured`, with the box's defaults where it leaves one
  // unset: processes from pids_max (RLIMIT_NPROC counts per uid, so per task) and, without a
  // cgroup to hold memory, address space from memory_max_bytes.
  ResourceLimits Limits(ResourceLimits configured) const;

  bool cgroups() const { return cgroups_ != nullptr; }
  const TaskBoxesOptions& options() const { return options_; }

 private:
  // Everything but the workspace and HOME, on the owner thread.
  Result<BoxedTask> Assemble(const std::string& task_id, const std::string& workspace,
                             uint16_t proxy_port);

  boost::asio::io_context& owner_;
  TaskBoxesOptions options_;
  std::vector<box::SystemBind> system_;
  box::UidPool uids_;
  std::shared_ptr<box::TaskCgroups> cgroups_;
  bool have_bwrap_ = false;
  std::string stage_problem_;  // why the stage cannot serve; empty when it can
  // Hands workspaces over: two, so that one huge workspace does not hold up every other start.
  boost::asio::thread_pool files_{2};  // last, so joined first
};

// The listening socket the keeper sent over `channel` (proxy-only), or -1 when none came.
int ReceiveListener(int channel);

// "HOME", "USER", "LOGNAME" and "TMPDIR" of a boxed tool.
void BoxEnvironment(std::map<std::string, std::string>& env, const std::string& home);

}  // namespace autovibe::runner
