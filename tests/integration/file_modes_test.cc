// Files that hold the controller's state or a secret are 0600 whatever the umask and the
// directory's mode: controller.db and its -wal and -shm, its backups, admin.token, and what
// the agent writes into its data dir (the machine id, checkpoints, keys and tokens). Run with
// a umask of 0 and world-writable directories, the most permissive there is.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/run_program.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Sets the umask while it lives (the processes started meanwhile inherit it).
class Umask {
 public:
  explicit Umask(mode_t mask) : saved_(::umask(mask)) {}
  ~Umask() { ::umask(saved_); }

 private:
  mode_t saved_;
};

std::string OpenDir(const std::string& path) {
  fs::create_directories(path);
  fs::permissions(path, fs::perms::all);
  return path;
}

// Every regular file under `dir` (but under `skip`) with its mode, as "path 0644".
std::vector<std::string> Modes(const std::string& dir, const std::string& skip = "") {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!skip.empty() && it->path().filename() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    out.push_back(it->path().string() + " " + mode);
  }
  return out;
}

bool AllPrivate(const std::vector<std::string>& modes) {
  for (const std::string& m : modes) {
    if (!m.ends_with(" 0600")) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("state, backups, keys and tokens are 0600 under umask 0 in open directories", "[files]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  Umask permissive(0);
  const std::string data = OpenDir(dir / "controller");
  const std::string backups = OpenDir(dir / "backups");
  std::ofstream(dir / "controller.toml")
      << "backup_every = \"1s\"\nbackup_keep = 2\nbackup_dir = \"" << backups << "\"\n";
  ControllerProcess controller(data, nats.url(), {"--config", dir / "controller.toml"});
  const std::string agent_data = OpenDir(dir / "agent");
  AgentProcess agent("private", agent_data, nats.url(), {"--upstream", "anthropic=mock"});
  REQUIRE(WaitUntil([&] { return controller.MachineState("private") == "ready"; }, 20s));
  REQUIRE(WaitUntil([&] { return fs::exists(data + "/controller.db-wal"); }, 10s));
  REQUIRE(WaitUntil([&] { return !Modes(backups).empty(); }, 10s));
  // A backup made by hand, into an open directory.
  const std::string by_hand = OpenDir(dir / "by-hand") + "/controller.db";
  auto made = RunProgram(
      {{BinPath("autovibe-controller"), "backup", "--to", by_hand, "--data-dir", data}, 30s});
  REQUIRE(made);

  auto state = Modes(data);
  INFO(Catch::Detail::stringify(state));
  CHECK(state.size() >= 4);  // controller.db, -wal, -shm, admin.token (and the lock)
  CHECK(AllPrivate(state));
  auto copies = Modes(backups);
  auto hand = Modes(dir / "by-hand");
  INFO(Catch::Detail::stringify(copies) << Catch::Detail::stringify(hand));
  CHECK(AllPrivate(copies));
  CHECK(hand.size() == 1);
  CHECK(AllPrivate(hand));
  // The agent's own files (the tools' workspaces are theirs).
  auto agent_files = Modes(agent_data, "workspaces");
  INFO(Catch::Detail::stringify(agent_files));
  CHECK_FALSE(agent_files.empty());
  CHECK(AllPrivate(agent_files));
}
