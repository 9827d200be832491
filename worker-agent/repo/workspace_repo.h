// A task's repository, from the mirror into its workspace and from its workspace into a
// result (RepoKeeper runs these on its threads; each blocks on git).
//
// The workspace gets a repository of its own that shares the mirror's history by hard links
// (git clone --local): no second copy of the history on disk, yet whole, so a checkpoint of the
// workspace restores anywhere as a working repository. The linked history stays the agent's,
// read-only (box/owner.h leaves it alone when the workspace is handed to the task user).
//
// The task owns its .git and may have made anything of it, so the agent never runs git there
// once the tool has run: it reads the result out of the workspace with a git dir of its own
// (RepoPaths::TaskGitDir), whose config, hooks and objects are the agent's.
#pragma once

#include <string>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/core/result.h"
#include "worker-agent/repo/paths.h"

namespace autovibe::repo {

struct RepoLimits {
  uint64_t max_bundle_bytes = 64ull << 20;
  uint64_t max_diff_bytes = 32ull << 20;
};

// Fetches the repository into its mirror (made on first use), one task at a time per mirror.
// Returns the mirror's path. Errors: repo_unavailable with git's reason (unreachable host,
// refused credentials, no space); bad_url for an address autovibe does not allow. A mirror
// that could not be made is removed, not left half-made.
Result<std::string> UpdateMirror(const RepoPaths& paths, const v1::RepoSpec& spec,
                                 const std::string& task_id);

// Checks `spec.ref` out into the task's workspace (which must not exist yet, or be empty) on
// the task's branch, and makes the task's git dir. With `seeded` (the workspace came from a
// checkpoint or an earlier attempt) nothing is checked out: the task's git dir is made if this
// machine lacks it. Returns the base commit. Errors: repo_unavailable (no such ref), io.
Result<std::string> CheckOut(const RepoPaths& paths, const v1::RepoSpec& spec,
                             const std::string& task_id, const std::string& mirror,
                             const std::string& workspace, bool seeded);

// Reads the workspace as the tool left it into a commit on the task's branch whose parent is
// the base, and writes its diff and bundle (base..head) under RepoPaths::Result. A workspace
// with no change gives head = base and no files. Errors go into RepoResult.error.
v1::RepoResult Harvest(const RepoPaths& paths, const v1::RepoSpec& spec, const std::string& task_id,
                       const std::string& workspace, const RepoLimits& limits);

// Pushes the task's result branch to the repository's remote (never forced). Errors:
// not_found (no result of that task here), repo_unavailable (the remote refused, with git's
// reason).
Result<void> PushResult(const RepoPaths& paths, const v1::RepoSpec& spec,
                        const std::string& task_id);

// The branch a task's change goes on: spec.branch, else "autovibe/<task id>".
std::string TaskBranch(const v1::RepoSpec& spec, const std::string& task_id);

// Forgets a task's git dir and result files.
void RemoveTaskRepo(const RepoPaths& paths, const std::string& task_id);

}  // namespace autovibe::repo
