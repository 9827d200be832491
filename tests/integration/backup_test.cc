// Controller backups: `autovibe-controller backup` copies the database while the controller
// runs; `restore` puts a copy back into a stopped controller's data dir (and refuses while one
// runs, or a file that is not a whole controller backup, changing nothing); scheduled backups
// keep the newest few.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "common/core/run_program.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Runs autovibe-controller ARGS; the exit code 0 or the error, with what it printed.
Result<std::string> Controller(std::vector<std::string> args) {
  args.insert(args.begin(), BinPath("autovibe-controller"));
  return RunProgram({std::move(args), 30s});
}

// The finished backups in `dir`, oldest first (one being written is a .tmp file).
std::vector<std::string> Backups(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename();
    if (name.ends_with(".db")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a backup taken while the controller runs restores its state", "[backup]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string data = dir / "controller";
  const std::string backup = dir / "backup.db";
  std::string task;
  {
    ControllerProcess controller(data, nats.url());
    TaskClient tasks(controller);
    tasks.CreateProject("kept");
    task = tasks.SubmitShell("kept", {"true"});
    auto made = Controller({"backup", "--to", backup, "--data-dir", data});
    REQUIRE(made);
    CHECK_THAT(*made, Catch::Contains("backed up") && Catch::Contains("schema version"));
    // Not into a running controller's data dir.
    auto refused = Controller({"restore", "--from", backup, "--data-dir", data});
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::Contains("a controller is running"));
    // Made after the backup: gone after the restore.
    tasks.CreateProject("later");
  }
  // The database lost (a disk replaced): the backup brings the state back.
  fs::remove(data + "/controller.db");
  fs::remove(data + "/controller.db-wal");
  fs::remove(data + "/controller.db-shm");
  auto restored = Controller({"restore", "--from", backup, "--data-dir", data});
  REQUIRE(restored);
  CHECK_THAT(*restored, Catch::Contains("restored"));
  ControllerProcess controller(data, nats.url());
  TaskClient tasks(controller);
  CHECK(tasks.Task(task).at("project").as_string() == "kept");
  CHECK(controller.Call("GET", "/v1/projects/kept")->status == 200);
  CHECK(controller.Call("GET", "/v1/projects/later")->status == 404);
}

TEST_CASE("restore refuses what is not a whole controller backup and changes nothing", "[backup]") {
  TempDir dir;
  const std::string data = dir / "controller";
  NatsServer nats(dir / "nats");
  { ControllerProcess controller(data, nats.url()); }
  const std::string db = data + "/controller.db";
  const std::string before = ReadFile(db).value();

  std::ofstream(dir / "text.db") << "not a database at all\n";
  // A SQLite file, but no controller's.
  REQUIRE(RunProgram({{"python3", "-c",
                       "import sqlite3; c = sqlite3.connect('" + dir / "other.db" +
                           "'); c.execute('create table t(x)'); c.commit()"}}));
  // A backup cut short.
  REQUIRE(Controller({"backup", "--to", dir / "whole.db", "--data-dir", data}));
  const std::string whole = ReadFile(dir / "whole.db").value();
  std::ofstream(dir / "cut.db", std::ios::binary) << whole.substr(0, whole.size() / 2);

  for (const auto& [file, why] : {std::pair{std::string(dir / "missing.db"), "no backup at"},
                                  {dir / "text.db", "not"},
                                  {dir / "other.db", "not a backup of an autovibe controller"},
                                  {dir / "cut.db", "not"}}) {
    INFO(file);
    auto r = Controller({"restore", "--from", file, "--data-dir", data});
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("restore failed") && Catch::Contains(why));
    CHECK(ReadFile(db).value() == before);
  }
  // The whole one goes in.
  CHECK(Controller({"restore", "--from", dir / "whole.db", "--data-dir", data}));
}

TEST_CASE("scheduled backups keep the newest few", "[backup]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "backup_every = \"1s\"\nbackup_keep = 2\nbackup_dir = \""
                        << dir / "backups"
                        << "\"\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});
  // Names are per second. Backups are taken (and pruned) while this looks, so it waits for
  // the states it expects rather than reading the directory once: two kept, and later two
  // kept of which the first one taken is not one any more.
  std::vector<std::string> kept;
  REQUIRE(WaitUntil(
      [&] {
        kept = Backups(dir / "backups");
        return kept.size() == 2;
      },
      20s));
  const std::string first = kept.front();
  REQUIRE(WaitUntil(
      [&] {
        kept = Backups(dir / "backups");
        return kept.size() == 2 && kept.front() != first;
      },
      20s));
  // Never more than two finished ones for long.
  CHECK(WaitUntil([&] { return Backups(dir / "backups").size() <= 2; }, 5s));
  for (const auto& name : kept) {
    CHECK_THAT(name, Catch::StartsWith("controller-") && Catch::EndsWith("Z.db"));
  }
  // Each is a whole backup: it restores into a fresh data dir.
  auto r = Controller(
      {"restore", "--from", dir / ("backups/" + kept.back()), "--data-dir", dir / "fresh"});
  CHECK(r);
}
