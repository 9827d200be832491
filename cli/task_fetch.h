// `autovibe task fetch ID`: brings a repository task's branch into the git repository the user
// stands in, from the bundle the controller keeps (GET /v1/tasks/{id}/bundle).
#pragma once

#include <string>

#include "cli/command.h"

namespace autovibe::cli {

struct FetchFlags {
  std::string local_branch;  // empty: the task's own branch (autovibe/<task id>)
  bool force = false;        // move a local branch that points elsewhere
  std::string dir;           // the repository to fetch into; empty: the current directory
};

// Fetches the task's branch into `refs/heads/<local branch>` of the repository at `flags.dir`
// with git (run without a shell), then prints what it fetched and how to check it out (its JSON
// with --json: id, branch, base, head). Refuses, changing nothing, when the directory is no
// git repository, the repository lacks the task's base commit, the local branch exists at
// another commit (unless `force`), or the task has no change to fetch. The bundle goes to a
// private temporary file, removed whatever happens.
CliStatus FetchTask(CommandContext& ctx, const std::string& id, const FetchFlags& flags);

}  // namespace autovibe::cli
