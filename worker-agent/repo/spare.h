// Spare checkouts: a repository's files written ahead of time, off every task's path, so the
// next task on that repository starts without writing tens of thousands of files.
//
// A spare is what CheckOut makes for a task (a clone of the mirror whose history is shared by
// hard links, a commit's files checked out), made in the background once a task on the
// repository has started. It lies under RepoPaths::Spare, inside the agent's 0700 repository
// directory: no task can reach it before it is handed over, and once handed over it is that
// task's alone, like any checkout. It notes the mirror's refs as they were when it was cloned;
// if the mirror has moved since, claiming it fetches what is new from the mirror first (only
// the difference travels), so a task gets the same repository either way. One per mirror.
//
// Blocking (git): call from the RepoKeeper's threads, never the owner thread.
#pragma once

#include <optional>
#include <string>

#include "common/core/result.h"
#include "worker-agent/repo/paths.h"

namespace autovibe::repo {

// Makes the spare of `mirror` with `commit` checked out (the mirror's HEAD when empty), unless
// it has one (false); first empties the trash. Takes as long as a checkout: call it where
// nothing waits for it. Errors: io, or git's reason; nothing half-made is left behind.
Result<bool> MakeSpare(const RepoPaths& paths, const std::string& mirror,
                       const std::string& commit);

// Moves the spare of `mirror`, brought up to the mirror's refs, to `workspace` (which must not
// exist, or be an empty directory), waiting for a spare in the making. The workspace is then a
// clone of the mirror whose remote is still the mirror, its HEAD detached at the commit
// returned, whose files it holds. Nothing when there is no spare or it could not be used:
// `workspace` is then as it was, and what was left of the spare is in the trash.
std::optional<std::string> ClaimSpare(const RepoPaths& paths, const std::string& mirror,
                                      const std::string& workspace);

// Removes the spare of `mirror` (its mirror went), waiting for one in the making.
void RemoveSpare(const RepoPaths& paths, const std::string& mirror);
// Removes every spare and empties the trash (the disk runs short: a spare is the cheapest
// thing to lose, the next task on its repository makes another).
void RemoveSpares(const RepoPaths& paths);

// Moves `dir` to the trash, which the next MakeSpare empties: removing tens of thousands of
// files takes longer than a task should wait. Removes it at once when it cannot be moved.
void Trash(const RepoPaths& paths, const std::string& dir);

}  // namespace autovibe::repo
