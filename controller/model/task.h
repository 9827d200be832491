// A task as the controller knows and stores it (DESIGN.md, "States").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

enum class TaskState {
  kQueued,
  kBlocked,  // waiting for its dependencies
  kAssigned,
  kRunning,
  kPaused,
  kSucceeded,
  kFailed,
  kCancelled,
  kAwaitingReview,  // a repository task with a review gate ended: its change waits for a human
  kRejected,        // ... who turned it down: nothing was published
};

inline constexpr TaskState kAllTaskStates[] = {
    TaskState::kQueued,         TaskState::kBlocked,   TaskState::kAssigned, TaskState::kRunning,
    TaskState::kPaused,         TaskState::kSucceeded, TaskState::kFailed,   TaskState::kCancelled,
    TaskState::kAwaitingReview, TaskState::kRejected};

std::string_view ToString(TaskState s);
std::optional<TaskState> ParseTaskState(std::string_view text);
bool IsFinal(TaskState s);
// Assigned or running: the task holds a slot on its machine.
bool IsPlaced(TaskState s);

// A task's repository (DESIGN.md, "task submit --repo"): where the workspace comes from and
// where its change goes.
struct TaskRepo {
  std::string url;               // empty: no repository
  std::string ref;               // empty: the remote's default branch
  std::string secret;            // the name of the secret holding its credential; empty: none
  std::string branch;            // empty: autovibe/<task id>
  std::string publish = "none";  // none | push | pr
  bool review = false;           // a human approves before anything is published
  bool publish_on_failure = false;
  std::string forge_api;     // pr: the forge's REST API base; empty: worked out from the url
  std::string forge_secret;  // pr: the secret holding the forge token; empty: `secret`
  // Author and committer of the change's commit, "Name <email>"; empty: autovibe's own.
  std::string author;
};

// What the user asked for; never changes after submission.
struct TaskSpec {
  std::string tool;
  std::string prompt;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> options;  // model, max_turns
  std::map<std::string, std::string> labels;   // a machine must carry all of them
  std::vector<std::string> depends_on;
  int32_t priority = 0;  // higher runs first
  uint32_t timeout_s = 0;
  uint32_t max_attempts = 3;
  std::string from_checkpoint;
  int64_t max_usd_micros = 0;  // the task's own spending cap; 0: only the project's budgets
  std::string title;           // a short name (the commit message); empty: the prompt's start
  TaskRepo repo;
};

// What a repository task changed (its agent's RepoResult), and what became of it.
struct TaskChange {
  std::string base, head, branch;
  std::string base_branch;  // what `base` was taken from; a pull request merges into it
  uint32_t files_changed = 0;
  uint64_t insertions = 0, deletions = 0;
  uint64_t diff_bytes = 0, bundle_bytes = 0;
  std::string error;      // why there is no change to show
  bool stored = false;    // the controller holds its diff and bundle
  std::string published;  // "", "pushed", "pr" (then pr_url), "failed: ..."
  std::string pr_url;
  bool empty() const { return base.empty() && error.empty(); }
};

// What the tool said about its own run.
struct TaskReport {
  uint32_t turns = 0;
  std::string session_id;
  int64_t reported_cost_micros = 0;
  std::string result_subtype;
  // The tokens the tool says it used (codex), as the ledger counts them; 0 when it says none.
  int64_t reported_input_tokens = 0;
  int64_t reported_output_tokens = 0;
  int64_t reported_cache_read_tokens = 0;
  int64_t reported_cache_write_tokens = 0;
  TaskChange change;
};

struct TaskRecord {
  std::string id;
  std::string project;
  int64_t seq = 0;  // submission order
  TaskSpec spec;
  TaskState state = TaskState::kQueued;
  std::string machine_id;  // where the current attempt runs (or ran)
  uint32_t attempts = 0;
  std::optional<int32_t> exit_code;
  int32_t signal = 0;
  std::string reason;
  TaskReport report;
  std::string last_log;
  int64_t created_at_ms = 0;
  int64_t assigned_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  // Set while a paused task waits to continue on the machine that holds its workspace (kept in
  // memory only: after a controller restart it starts afresh wherever it fits).
  std::string resume_machine;
};

struct ProjectRecord {
  std::string name;
  int64_t created_at_ms = 0;
  bool stopped = false;  // emergency stop: nothing runs until resumed
  TaskRepo repo;         // the repository its tasks work on unless they name one
};

// One piece of a task's output as kept by the controller; `seq` runs over all attempts.
struct TaskLogChunk {
  int64_t seq = 0;
  uint32_t attempt = 0;
  std::string stream;  // stdout, stderr, agent
  std::string data;
  int64_t at_ms = 0;
};

}  // namespace autovibe
