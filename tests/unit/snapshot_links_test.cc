// Symbolic links in checkpoints: kept as they are, wherever they point (as git and tar keep
// them), and restored as links without a restore ever following one.
#include <catch2/catch.hpp>

#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/restore.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

// Every kind of link a workspace holds: a virtualenv's absolute one, relative ones inside and
// out, dangling ones, a loop, one to a directory outside, and two that lead out together.
std::map<std::string, std::string> PlantLinks(const Fixture& f) {
  fs::create_directories(f.tmp / "outside-dir");
  Write(f.tmp / "outside-dir/secret", "outside");
  Write(f.ws + "/x/bin/tool", "#!/bin/sh\n", 0755);
  std::map<std::string, std::string> links = {
      {"venv/bin/python3", "/usr/bin/python3"},
      {"venv/bin/python", "python3"},
      {"node_modules/.bin/tool", "../../x/bin/tool"},
      {"up", "../outside"},
      {"deep-up", "x/../../../etc"},
      {"dangling", "no/such/file"},
      {"loop", "loop"},
      {"outside-dir", f.tmp / "outside-dir"},
      {"a", "b/.."},
      {"b", "."},
  };
  Write(f.ws + "/venv/pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = false\n");
  for (const auto& [path, target] : links) {
    fs::create_directories(fs::path(f.ws + "/" + path).parent_path());
    fs::create_symlink(target, f.ws + "/" + path);
  }
  return links;
}

void CheckLinks(const std::string& root, const std::map<std::string, std::string>& links) {
  for (const auto& [path, target] : links) {
    INFO(path);
    REQUIRE(fs::is_symlink(fs::symlink_status(root + "/" + path)));
    CHECK(fs::read_symlink(root + "/" + path).string() == target);
  }
}

TEST_CASE("checkpoint: every symbolic link is kept as it is and comes back as it was") {
  Fixture f;
  auto links = PlantLinks(f);
  auto cp = f.Take();
  CHECK(cp.skipped.empty());
  const auto outside = Describe(f.tmp / "outside-dir");

  auto restored = f.store->Restore(cp.manifest.id(), f.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(restored->symlinks == links.size());
  CheckLinks(f.tmp / "copy", links);
  CHECK(Describe(f.tmp / "copy") == Describe(f.ws));
  // Nothing was written where a link leads.
  CHECK(Describe(f.tmp / "outside-dir") == outside);
  CHECK_FALSE(fs::exists(f.tmp / "outside"));

  // Moved to another store (a branch onto another machine) they stay as they were.
  Fixture other;
  Move(*f.store, *other.store, cp.manifest.id());
  REQUIRE(other.store->Restore(cp.manifest.id(), other.tmp / "copy", false));
  CheckLinks(other.tmp / "copy", links);

  // A link pointed elsewhere is a change, and a restore in place puts the old one back.
  fs::remove(f.ws + "/venv/bin/python3");
  fs::create_symlink("/usr/local/bin/python3", f.ws + "/venv/bin/python3");
  auto changed = f.Take();
  auto diff = f.store->Diff(cp.manifest.id(), changed.manifest.id());
  REQUIRE(diff);
  REQUIRE(diff->size() == 1);
  CHECK((*diff)[0].path == "venv/bin/python3");
  CHECK((*diff)[0].kind == Change::kChanged);
  REQUIRE(f.store->Restore(cp.manifest.id(), f.ws, true));
  CheckLinks(f.ws, links);
  CHECK(Describe(f.tmp / "outside-dir") == outside);
}

TEST_CASE("checkpoint: a restore never follows a symbolic link planted in its destination") {
  Fixture f;
  Write(f.ws + "/sub/f", "inside");
  Write(f.ws + "/g", "inside too");
  auto cp = f.Take();
  fs::create_directories(f.tmp / "outside");

  // Where the checkpoint has a directory and a file, the workspace now has links out.
  fs::remove_all(f.ws + "/sub");
  fs::remove(f.ws + "/g");
  fs::create_symlink(f.tmp / "outside", f.ws + "/sub");
  fs::create_symlink(f.tmp / "outside/g", f.ws + "/g");
  REQUIRE(f.store->Restore(cp.manifest.id(), f.ws, true));
  CHECK(fs::is_empty(f.tmp / "outside"));
  CHECK_FALSE(fs::is_symlink(fs::symlink_status(f.ws + "/sub")));
  CHECK(*ReadFile(f.ws + "/sub/f") == "inside");
  CHECK_FALSE(fs::is_symlink(fs::symlink_status(f.ws + "/g")));
  CHECK(*ReadFile(f.ws + "/g") == "inside too");

  // The destination itself a link out: refused, and nothing is written there.
  fs::create_symlink(f.tmp / "outside", f.tmp / "linked-ws");
  auto r = f.store->Restore(cp.manifest.id(), f.tmp / "linked-ws", true);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK(fs::is_empty(f.tmp / "outside"));
}

}  // namespace
}  // namespace autovibe::snapshot
