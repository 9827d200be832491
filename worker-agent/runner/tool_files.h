// The files an adapter asks for in the task's own home (tools::ToolLaunch::files), written
// before the tool starts, and the variables that name directories of that home.
#pragma once

#include <string>

#include "common/core/result.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe::runner {

// Writes `launch.files` under `home` (created 0700 if missing; directories 0700, files 0600)
// and sets each of `launch.home_dirs` in `launch.env` to its absolute path. Does nothing when
// the launch asks for neither. Never follows a symlink and never writes through a link: an
// earlier attempt's tool, which owned the home, may have left either where a file goes. A boxed
// task's home is then handed to its user whole (TaskBoxes), these files with it. Errors:
// "bad_task" for a path that is absolute, empty or has "." or ".." parts; "io" when a file
// cannot be written.
Result<void> PlaceToolFiles(const std::string& home, tools::ToolLaunch& launch);

}  // namespace autovibe::runner
