#include "controller/provisioners/local_provisioner.h"

#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "controller/provisioners/detached_process.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A stand-in agent that records its arguments and runs until killed.
std::string WriteFakeAgent(const TempDir& dir, const std::string& body) {
  const std::string path = dir / "fake-agent";
  std::ofstream(path) << "#!/bin/sh\n" << body;
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("a detached process runs in its own session, logs to its file, and is not our child") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  const std::string script = WriteFakeAgent(dir, "echo started \"$@\"; exec sleep 30\n");
  auto pid = SpawnDetached(
      {.argv = {script, "--config", dir / "x.toml"}, .cwd = dir.path(), .log_path = dir / "log"});
  REQUIRE(pid);
  CHECK(getsid(*pid) != getsid(0));              // a session of its own
  CHECK(waitpid(*pid, nullptr, WNOHANG) == -1);  // reparented: not ours to reap
  REQUIRE(WaitUntil(
      [&] {
        auto log = ReadFile(dir / "log");
        return log && log->find("started") != std::string::npos;
      },
      5s));
  CHECK(ReadFile(dir / "log").value() == "started --config " + (dir / "x.toml") + "\n");
  kill(*pid, SIGKILL);

  auto missing = SpawnDetached({.argv = {dir / "no-such-program"}, .log_path = dir / "log"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  auto bad_cwd = SpawnDetached({.argv = {script}, .cwd = dir / "nope", .log_path = dir / "log"});
  REQUIRE_FALSE(bad_cwd);
  CHECK(bad_cwd.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(SpawnDetached({.argv = {}, .log_path = dir / "log"}));
}

TEST_CASE("the local backend starts an agent per machine and removes it on destroy") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  const std::string agent = WriteFakeAgent(dir, "while true; do sleep 1; done\n");
  auto prov = MakeLocalProvisioner({.agent_binary = agent,
                                    .machines_dir = dir / "machines",
                                    .agent_toml = "task_slots = 2\n",
                                    .stop_grace = 2s});
  CHECK(prov->backend() == "local");
  CHECK_FALSE(prov->CanSnapshot());
  MachineLaunch launch;
  launch.machine_id = "m-00000000abcd";
  launch.name = "local-1";
  launch.agent.nats_url = "nats://127.0.0.1:1";
  launch.agent.labels = {{"pool", "local"}};
  auto instance = prov->Create(launch);
  REQUIRE(instance);
  const pid_t pid = std::stoi(*instance);
  const std::string home = dir / "machines/local-1";
  CHECK(ProcessAlive(pid));
  CHECK(ProcessHasArg(pid, home + "/agent.toml"));
  const std::string config = ReadFile(home + "/agent.toml").value();
  CHECK_THAT(config, Catch::Contains("m-00000000abcd"));
  CHECK_THAT(config, Catch::Contains("name = 'local-1'") || Catch::Contains("name = \"local-1\""));
  CHECK_THAT(config, Catch::Contains("task_slots = 2"));

  // The same name twice is refused, and leaves the first machine alone.
  auto twice = prov->Create(launch);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == ErrorCode::kConflict);
  CHECK(ProcessAlive(pid));

  // A pid that is not this machine's agent is never signalled.
  ChildProcess bystander({"/bin/sleep", "30"}, dir / "bystander.log");
  REQUIRE(prov->Destroy("local-1", std::to_string(bystander.pid())));
  CHECK(bystander.Running());
  CHECK(ProcessAlive(pid));  // wrong instance: not found, not killed

  // Recreate the dir state (the destroy above removed it) and destroy for real.
  auto again = prov->Create(launch);
  REQUIRE(again);
  const pid_t pid2 = std::stoi(*again);
  REQUIRE(prov->Destroy("local-1", *again));
  CHECK_FALSE(ProcessAlive(pid2));
  CHECK_FALSE(fs::exists(home));
  // Gone already: not an error.
  CHECK(prov->Destroy("local-1", *again));
  // A controller that stopped before it learnt the pid still finds its agent.
  kill(pid, SIGKILL);
  REQUIRE(WaitUntil([&] { return !ProcessAlive(pid); }, 5s));
  auto third = prov->Create(launch);
  REQUIRE(third);
  const pid_t pid3 = std::stoi(*third);
  REQUIRE(prov->Destroy("local-1", ""));
  CHECK_FALSE(ProcessAlive(pid3));
  CHECK_FALSE(fs::exists(home));
}

TEST_CASE("the local backend reports an agent it cannot start and leaves nothing behind") {
  TempDir dir;
  auto prov = MakeLocalProvisioner(
      {.agent_binary = dir / "missing-agent", .machines_dir = dir / "machines"});
  MachineLaunch launch;
  launch.machine_id = "m-00000000abcd";
  launch.name = "local-1";
  auto r = prov->Create(launch);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kNotFound);
  CHECK_FALSE(fs::exists(dir / "machines/local-1"));
}
