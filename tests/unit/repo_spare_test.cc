// Spare checkouts (worker-agent/repo/spare.h) with real git on the local disk: the workspace a
// task gets from a spare is the repository a fresh checkout gives it, also when the remote
// moved after the spare was made; a spare that cannot be used changes nothing; retention
// removes spares with their mirror, and first when the disk runs short.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/support/shell.h"
#include "worker-agent/repo/retention.h"
#include "worker-agent/repo/spare.h"
#include "worker-agent/repo/workspace_repo.h"

using namespace autovibe;
namespace fs = std::filesystem;

namespace {

using testing::Sh;

struct SpareFixture {
  testing::TempDir dir{"av-spare"};
  std::string origin = dir / "origin.git";
  repo::RepoPaths paths{dir / "data"};
  v1::RepoSpec spec;

  SpareFixture() {
    Sh("set -e; cd " + dir.path() +
       " && git init -q -b main work && cd work && git config user.email d@e && "
       "git config user.name D && mkdir -p src && echo one > src/a.txt && echo keep > b.txt && "
       "git add . && git commit -qm first && git tag v1 && echo two > src/a.txt && "
       "git commit -qam second && git clone -q --bare . " +
       origin);
    spec.set_url(origin);
  }

  // Commits `content` to src/a.txt in the origin (through the work clone).
  std::string Push(const std::string& content) {
    Sh("set -e; cd " + dir.path() + "/work && echo " + content +
       " > src/a.txt && git commit -qam more && git tag -f moved && git push -q --tags " + origin +
       " main");
    return Sh("git --git-dir=" + origin + " rev-parse main");
  }

  std::string Workspace(const std::string& task) { return dir / ("data/workspaces/" + task); }

  // The task's checkout at `ref` (empty: the remote's HEAD), fetched as a task does.
  std::string CheckOut(const std::string& task, const std::string& ref = "") {
    spec.set_ref(ref);
    auto mirror = repo::UpdateMirror(paths, spec, task);
    REQUIRE(mirror);
    fs::create_directories(Workspace(task));
    auto base = repo::CheckOut(paths, spec, task, *mirror, Workspace(task), false);
    REQUIRE(base);
    return *base;
  }

  std::string Mirror() { return paths.Mirror(origin); }
  // The inode of b.txt (never changed) in `dir`: the same in a spare and the workspace it became.
  static ino_t FileId(const std::string& dir) {
    struct stat st {};
    return stat((dir + "/b.txt").c_str(), &st) == 0 ? st.st_ino : 0;
  }
  // Sets the mtime of `path` `age` ago.
  static void Age(const std::string& path, std::chrono::seconds age) {
    const timespec when{.tv_sec = time(nullptr) - age.count(), .tv_nsec = 0};
    const timespec times[2] = {when, when};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  }
  static std::chrono::seconds AgeOf(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return std::chrono::seconds(time(nullptr) - st.st_mtim.tv_sec);
  }
  bool HasSpare() { return fs::exists(paths.Spare(Mirror())); }

  // `script` run in the task's workspace.
  std::string In(const std::string& task, const std::string& script) {
    return Sh("cd " + Workspace(task) + " && " + script);
  }

  // What a user of the workspace sees of its repository.
  std::string Looks(const std::string& task) {
    return In(task,
              "git status --porcelain=v2 --branch | grep -v '^# branch.head'; "
              "git for-each-ref --format='%(objectname) %(refname)' | grep -v refs/heads/autovibe; "
              "git ls-files -s; git remote get-url origin; git log --format=%s; "
              "cat src/a.txt b.txt; git fsck --no-progress 2>&1");
  }
};

}  // namespace

TEST_CASE("the next task on a repository gets the spare checkout: the repository a fresh one is") {
  SpareFixture f;
  const std::string base = f.CheckOut("t-1");
  CHECK_FALSE(f.HasSpare());
  auto made = repo::MakeSpare(f.paths, f.Mirror(), base);
  REQUIRE(made);
  CHECK(*made);
  auto again = repo::MakeSpare(f.paths, f.Mirror(), base);
  REQUIRE(again);
  CHECK_FALSE(*again);  // one per mirror
  REQUIRE(f.HasSpare());
  const ino_t spare = f.FileId(f.paths.Spare(f.Mirror()));
  REQUIRE(spare != 0);
  f.Age(f.paths.Spare(f.Mirror()), std::chrono::hours(24 * 30));  // made long ago

  CHECK(f.CheckOut("t-2") == base);
  CHECK_FALSE(f.HasSpare());  // it became t-2's workspace
  CHECK(f.FileId(f.Workspace("t-2")) == spare);
  CHECK(f.AgeOf(f.Workspace("t-2")) < std::chrono::minutes(5));  // new to retention
  CHECK(f.In("t-2", "git rev-parse HEAD") == base);
  CHECK(f.In("t-2", "git symbolic-ref HEAD") == "refs/heads/autovibe/t-2");
  CHECK(f.In("t-2", "git status --porcelain").empty());
  CHECK(f.In("t-2", "git remote get-url origin") == f.origin);
  CHECK_FALSE(fs::exists(f.Workspace("t-2") + "/.git/autovibe-spare"));
  CHECK(f.Looks("t-2") == f.Looks("t-1"));
  // Its history is the mirror's, by hard links, as a fresh checkout's is.
  CHECK(f.In("t-2", "find .git/objects -type f -links +1 | wc -l") != "0");
}

TEST_CASE("a spare made before the remote moved catches up with the mirror when it is claimed") {
  SpareFixture f;
  const std::string old_base = f.CheckOut("t-1");
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), old_base));
  const ino_t spare = f.FileId(f.paths.Spare(f.Mirror()));
  const std::string moved = f.Push("three");
  REQUIRE(moved != old_base);

  CHECK(f.CheckOut("t-2") == moved);
  CHECK_FALSE(f.HasSpare());
  CHECK(f.FileId(f.Workspace("t-2")) == spare);
  CHECK(f.In("t-2", "git rev-parse HEAD") == moved);
  CHECK(f.In("t-2", "cat src/a.txt") == "three");
  CHECK(f.In("t-2", "git status --porcelain").empty());
  CHECK(f.In("t-2", "git rev-parse origin/main main moved") == moved + "\n" + moved + "\n" + moved);
  // The same as a task that found no spare.
  CHECK(f.CheckOut("t-3") == moved);
  CHECK(f.Looks("t-2") == f.Looks("t-3"));
}

TEST_CASE("a spare at another commit still serves a task at an older ref") {
  SpareFixture f;
  const std::string head = f.CheckOut("t-1");
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), head));
  const ino_t spare = f.FileId(f.paths.Spare(f.Mirror()));
  const std::string v1 = f.CheckOut("t-2", "v1");
  CHECK(v1 != head);
  CHECK_FALSE(f.HasSpare());
  CHECK(f.FileId(f.Workspace("t-2")) == spare);
  CHECK(f.In("t-2", "git rev-parse HEAD") == v1);
  CHECK(f.In("t-2", "cat src/a.txt") == "one");
  CHECK(f.In("t-2", "git status --porcelain").empty());
}

TEST_CASE("a spare that cannot be used is put aside and the task checks out as before") {
  SpareFixture f;
  const std::string base = f.CheckOut("t-1");
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), base));
  // Whatever happened to it (here: its note is gone), it is not handed to a task.
  fs::remove(f.paths.Spare(f.Mirror()) + "/.git/autovibe-spare");
  std::ofstream(f.paths.Spare(f.Mirror()) + "/planted.txt") << "not from the repository\n";
  CHECK(f.CheckOut("t-2") == base);
  CHECK_FALSE(fs::exists(f.Workspace("t-2") + "/planted.txt"));
  CHECK(f.Looks("t-2") == f.Looks("t-1"));
  CHECK_FALSE(f.HasSpare());
  CHECK_FALSE(fs::is_empty(f.paths.Trash()));
  // The next spare empties the trash.
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), base));
  CHECK(fs::is_empty(f.paths.Trash()));
  CHECK(f.HasSpare());
}

TEST_CASE("a spare goes with its mirror, and before any workspace when the disk runs short") {
  using namespace std::chrono_literals;
  SpareFixture f;
  const std::string base = f.CheckOut("t-1");
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), base));
  // Short of space: the spare goes; a workspace finished moments ago stays.
  repo::Sweep(f.dir / "data", {},
              {.workspace_max_age = 0s, .mirror_max_age = 0s, .min_free_fraction = 1.0},
              std::chrono::system_clock::now());
  CHECK_FALSE(f.HasSpare());
  CHECK(fs::exists(f.Workspace("t-1")));
  // A mirror nobody used for long goes with its spare.
  REQUIRE(repo::MakeSpare(f.paths, f.Mirror(), base));
  REQUIRE(f.HasSpare());
  repo::RemoveTaskRepo(f.paths, "t-1");  // no kept task reads the mirror's history any more
  f.Age(f.Mirror() + ".lock", 24h * 30);
  repo::Sweep(f.dir / "data", {},
              {.workspace_max_age = 0s, .mirror_max_age = 24h * 14, .min_free_fraction = 0},
              std::chrono::system_clock::now());
  CHECK_FALSE(fs::exists(f.Mirror()));
  CHECK_FALSE(f.HasSpare());
}
