// Retention of workspaces and mirrors (worker-agent/repo/retention.h) on a real temp dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"
#include "worker-agent/repo/retention.h"

using namespace autovibe;
using namespace autovibe::testing;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::system_clock;

void Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << content;
}

// Sets a path's modification time `age` before `now`.
void Age(const std::string& path, Clock::time_point now, std::chrono::seconds age) {
  const auto at = std::chrono::duration_cast<std::chrono::seconds>((now - age).time_since_epoch());
  timespec times[2] = {{at.count(), 0}, {at.count(), 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

}  // namespace

TEST_CASE("retention removes idle workspaces and unused mirrors, and keeps what is in use",
          "[repo]") {
  TempDir dir;
  const std::string d = dir.path();
  const auto now = Clock::now();
  using std::chrono::hours;
  for (const std::string t : {"t-old", "t-new", "t-live"}) {
    Write(d + "/workspaces/" + t + "/file.txt", std::string(10000, 'x'));
    Write(d + "/homes/" + t + "/.profile", "");
    fs::create_directories(d + "/repos/tasks/" + t + ".git/objects/info");
  }
  Write(d + "/repos/results/t-old/diff", "diff");
  // Two mirrors unused for a month; a kept workspace's task still reads the second.
  for (const std::string m : {"aaa", "bbb"}) {
    Write(d + "/repos/mirrors/" + m + ".git/HEAD", "ref: refs/heads/main\n");
    Write(d + "/repos/mirrors/" + m + ".git.lock", "");
    Age(d + "/repos/mirrors/" + m + ".git.lock", now, hours(30 * 24));
  }
  Write(d + "/repos/tasks/t-new.git/objects/info/alternates",
        d + "/repos/mirrors/bbb.git/objects\n");
  // A pack hard-linked into a workspace counts once.
  Write(d + "/repos/mirrors/bbb.git/objects/pack/p.pack", std::string(100000, 'p'));
  fs::create_directories(d + "/workspaces/t-new/.git/objects/pack");
  REQUIRE(link((d + "/repos/mirrors/bbb.git/objects/pack/p.pack").c_str(),
               (d + "/workspaces/t-new/.git/objects/pack/p.pack").c_str()) == 0);
  Age(d + "/workspaces/t-old", now, hours(100));
  Age(d + "/workspaces/t-live", now, hours(100));

  repo::RetentionPolicy policy{
      .workspace_max_age = hours(72), .mirror_max_age = hours(14 * 24), .min_free_fraction = 0};
  repo::DiskUse use = repo::Sweep(d, {"t-live"}, policy, now);
  CHECK_FALSE(fs::exists(d + "/workspaces/t-old"));
  CHECK_FALSE(fs::exists(d + "/homes/t-old"));
  CHECK_FALSE(fs::exists(d + "/repos/tasks/t-old.git"));
  CHECK_FALSE(fs::exists(d + "/repos/results/t-old"));
  CHECK(fs::exists(d + "/workspaces/t-new/file.txt"));
  CHECK(fs::exists(d + "/workspaces/t-live/file.txt"));  // old, but its task runs
  CHECK_FALSE(fs::exists(d + "/repos/mirrors/aaa.git"));
  CHECK(fs::exists(d + "/repos/mirrors/bbb.git/HEAD"));  // t-new still reads it
  CHECK(use.removed.size() == 2);
  // The linked pack is counted with the repositories, not again with the workspaces.
  CHECK(use.repos_bytes >= 100000);
  CHECK(use.workspaces_bytes >= 20000);
  CHECK(use.workspaces_bytes < 100000);

  // With no age limit and no space limit nothing more goes.
  repo::DiskUse again = repo::Sweep(d, {},
                                    {.workspace_max_age = std::chrono::seconds(0),
                                     .mirror_max_age = std::chrono::seconds(0),
                                     .min_free_fraction = 0},
                                    now + hours(1000));
  CHECK(again.removed.empty());
  CHECK(fs::exists(d + "/workspaces/t-live"));
}
