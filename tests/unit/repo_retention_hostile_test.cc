// Retention against a hostile task (issue 18's review): a workspace's timestamps are its
// task's to set, so they cannot be what decides how long the agent keeps it.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"
#include "worker-agent/repo/retention.h"

using namespace autovibe;
using namespace autovibe::testing;
namespace fs = std::filesystem;

// Was open (found by the review, fixed): repo::Sweep dated a finished workspace by the later of its
// directory's and its .git/index's mtime, both the task's (the task user owns them and may
// utimensat them to any date). A task that ends with `touch -d 2099-01-01 . .git/index` is never
// "idle" by age, and never "idle a while" when the disk runs short either, so its workspace
// (however big) stays forever and the idle ones of honest tasks are removed in its place. The agent
// should date a workspace by a file of its own (e.g. touched when the task's attempt ends, under
// <data>/repos/tasks or beside the workspace), or at least take a date in the future as now.
TEST_CASE("a task that dates its workspace in the future does not keep it past retention",
          "[repo]") {
  TempDir dir;
  const std::string d = dir.path();
  const auto now = std::chrono::system_clock::now();
  const std::string ws = d + "/workspaces/t-hostile";
  fs::create_directories(ws + "/.git");
  std::ofstream(ws + "/big.bin") << std::string(10000, 'x');
  std::ofstream(ws + "/.git/index") << "index";
  // What the task does before it ends: every date it owns, 2099.
  const timespec future[2] = {{4070908800, 0}, {4070908800, 0}};
  for (const std::string& p : {ws + "/.git/index", ws + "/big.bin", ws + "/.git", ws}) {
    REQUIRE(utimensat(AT_FDCWD, p.c_str(), future, AT_SYMLINK_NOFOLLOW) == 0);
  }
  // The agent saw the attempt end now (repo::MarkEnded); 100 hours later, with a 72 hour limit.
  repo::MarkEnded(d, "t-hostile");
  repo::Sweep(d, {},
              {.workspace_max_age = std::chrono::hours(72),
               .mirror_max_age = std::chrono::hours(14 * 24),
               .min_free_fraction = 0},
              now + std::chrono::hours(100));
  CHECK_FALSE(fs::exists(ws));
}
