// The ssh backend against a real sshd on a loopback port: the controller adopts this machine
// as a host, uploads the agent over SFTP and starts it, the machine runs a task, and terminating
// it removes the agent and everything put there. Host keys are pinned on first use.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "controller/provisioners/ssh_provisioner.h"
#include "controller/provisioners/ssh_session.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/sshd.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {}  // namespace

TEST_CASE("an ssh pool adopts a host, runs tasks there and cleans it up", "[machines][ssh]") {
  if (!SshdAvailable()) {
    WARN("sshd is not installed: skipping (scripts/install-deps.sh installs openssh-server)");
    return;
  }
  TempDir dir;
  KillOnExit cleanup(dir.path());
  Sshd sshd(dir / "sshd");
  NatsServer nats(dir / "nats");
  // Where the "host" keeps the agent: inside the test's directory, not /opt.
  const std::string host = dir / "host";
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"adopted\"\nbackend = \"ssh\"\nmax = 1\n"
                           "boot_timeout = \"60s\"\n[pool.ssh]\nhosts = [\""
                        << sshd.target() << "\"]\nprivate_key = \"" << sshd.private_key()
                        << "\"\ninstall_dir = \"" << host << "/opt\"\ndata_dir = \"" << host
                        << "/data\"\nunit_path = \"" << host
                        << "/autovibe-agent.service\"\n"
                           "[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});

  auto r = controller.Call("POST", "/v1/machines", std::nullopt, "{}");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  const std::string id = JsonString(json::parse(r->body).as_object(), "id");
  REQUIRE(WaitUntil([&] { return JsonString(controller.Machine(id), "state") == "ready"; }, 60s));
  json::object m = controller.Machine(id);
  CHECK(JsonString(m, "backend") == "ssh");
  CHECK(JsonString(m, "instance") == sshd.target());
  // What was put on the host: the agent, its config (0600), the marker naming the machine.
  CHECK(fs::exists(host + "/opt/bin/autovibe-agent"));
  CHECK((fs::status(host + "/opt/agent.toml").permissions() & fs::perms::group_read) ==
        fs::perms::none);
  CHECK(ReadFile(host + "/opt/machine").value() == "adopted-1");
  const pid_t pid = std::stoi(ReadFile(host + "/opt/agent.pid").value());
  CHECK(ProcessAlive(pid));
  // The host key was pinned on first use.
  CHECK(ReadFile(dir / "controller/ssh_known_hosts").value().find("127.0.0.1") !=
        std::string::npos);

  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t = tasks.SubmitShell("demo", {"sh", "-c", "echo adopted-over-ssh"});
  REQUIRE(tasks.WaitState(t, "succeeded", 30s));
  CHECK(tasks.Logs(t).find("adopted-over-ssh") != std::string::npos);

  REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
  REQUIRE(
      WaitUntil([&] { return JsonString(controller.Machine(id), "state") == "terminated"; }, 30s));
  CHECK(WaitUntil([&] { return !ProcessAlive(pid); }, 10s));
  CHECK_FALSE(fs::exists(host + "/opt"));
  CHECK_FALSE(fs::exists(host + "/data"));
}

TEST_CASE("the ssh backend refuses a held host, a changed host key and a wrong key",
          "[machines][ssh]") {
  if (!SshdAvailable()) {
    WARN("sshd is not installed: skipping");
    return;
  }
  TempDir dir;
  KillOnExit cleanup(dir.path());
  Sshd sshd(dir / "sshd");
  SshBackendOptions o;
  o.hosts = {sshd.target()};
  o.credentials = {sshd.private_key(), "", dir / "known_hosts"};
  o.agent_binary = BinPath("autovibe-agent");
  o.unit_template = std::string(AV_SOURCE_DIR) + "/templates/systemd/autovibe-agent.service";
  o.install_dir = dir / "host/opt";
  o.data_dir = dir / "host/data";
  o.unit_path = dir / "host/unit.service";
  o.agent_toml = "task_slots = 1\n";
  MachineLaunch launch;
  launch.machine_id = "m-00000000ab01";
  launch.name = "adopted-1";
  launch.agent.nats_url = "nats://127.0.0.1:1";  // never connects: not needed here

  auto first = MakeSshProvisioner(o)->Create(launch);
  REQUIRE(first);
  // Another controller (a fresh provisioner) finds the host taken.
  launch.machine_id = "m-00000000ab02";
  launch.name = "adopted-2";
  auto second = MakeSshProvisioner(o)->Create(launch);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ErrorCode::kConflict);
  CHECK(ReadFile(dir / "host/opt/machine").value() == "adopted-1");
  // Destroying a machine the host does not hold leaves the host alone.
  REQUIRE(MakeSshProvisioner(o)->Destroy("adopted-2", *first));
  CHECK(fs::exists(dir / "host/opt/machine"));
  REQUIRE(MakeSshProvisioner(o)->Destroy("adopted-1", *first));
  CHECK_FALSE(fs::exists(dir / "host/opt"));

  // A host whose key is not the pinned one is refused.
  auto target = ParseSshTarget(sshd.target());
  REQUIRE(target);
  {
    TempDir other;
    Sshd impostor(other / "sshd");  // a different host key
    std::string pinned = ReadFile(dir / "known_hosts").value();
    const std::string from = "[127.0.0.1]:" + std::to_string(sshd.port());
    const std::string to = "[127.0.0.1]:" + std::to_string(impostor.port());
    pinned.replace(pinned.find(from), from.size(), to);
    REQUIRE(WriteFileAtomic(dir / "known_hosts2", pinned, 0600));
    auto changed = SshSession::Open(*ParseSshTarget(impostor.target()),
                                    {sshd.private_key(), "", dir / "known_hosts2"});
    REQUIRE_FALSE(changed);
    CHECK(changed.error().code == ErrorCode::kUnauthorized);
    CHECK_THAT(changed.error().message, Catch::Contains("host key"));
  }
  // A key the host does not accept.
  TempDir keys;
  REQUIRE(std::system(("ssh-keygen -q -N '' -t ed25519 -f " + (keys / "k")).c_str()) == 0);
  auto refused = SshSession::Open(*target, {keys / "k", "", dir / "known_hosts"});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthorized);
  // Nobody listening.
  auto nobody = SshSession::Open(*ParseSshTarget("root@127.0.0.1:" + std::to_string(FreePort())),
                                 {sshd.private_key(), "", dir / "known_hosts"}, 2s);
  REQUIRE_FALSE(nobody);
  CHECK(nobody.error().code == ErrorCode::kUnavailable);
}
