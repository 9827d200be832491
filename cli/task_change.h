// A repository task's change as people read it: where it came from, what it changed, where it
// went (the "repo" and "change" objects of a task in the API).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "cli/command.h"
#include "cli/table.h"

namespace autovibe::cli {

// The lines `task show` adds for a task with a title or a repository: title, repo, publish,
// branch, change, stored, published. None for a task without either.
KeyValues ChangeDetails(const boost::json::object& task);

// "1a2b3c4..5d6e7f8, 1 file changed, 1 insertion(+), 1 deletion(-)"; "no change (left at
// 1a2b3c4)"; "none: <why>" for a change that could not be made; "-" before the task ends.
std::string ChangeLine(const boost::json::object& change);

// "1 file changed, 1 insertion(+), 1 deletion(-)" from the change's own figures.
std::string ChangeShortStat(const boost::json::object& change);

// A commit id cut to the 7 characters git shows.
std::string ShortCommit(const std::string& commit);

// What a user does next with a task's change, for --wait's outcome; "" for a task without one.
// "  branch autovibe/t-1: 1 file changed, ...\n  see it: autovibe task diff t-1 ..."
std::string ChangeNextSteps(const boost::json::object& task);

// The task's change, or an error saying why there is none to use: the task has no repository
// (exit 4), its change could not be made, it has not ended with one yet (exit 1).
CliResult<boost::json::object> UsableChange(const boost::json::object& task);

}  // namespace autovibe::cli
