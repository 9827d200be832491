// The whole path users run, on a real VM: a Debian 12 guest built by
// scripts/build-debian-image.sh (debootstrap with systemd and cloud-init; cached between runs),
// booted under KVM by the libvirt backend with a NoCloud seed rendered from
// templates/cloud-init/agent.yaml. cloud-init fetches the agent from the host (checked by its
// SHA-256), installs the systemd unit and starts it; the agent registers over the user-mode
// network (the host side listens on loopback) and runs a shell task; a machine checkpoint is
// cloned into a second VM; both are terminated. Where KVM guests do not boot (no /dev/kvm, or a
// nested KVM whose guests hang; see kvm_probe.h) it is skipped (emulated, a
// systemd boot takes minutes); AUTOVIBE_VM_TEST_EMULATED=1 runs it anyway.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/core/run_program.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/libvirtd.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string Sh(const std::string& script, std::chrono::seconds timeout = 60s) {
  auto r = RunProgram({{"sh", "-c", script}, timeout});
  REQUIRE(r);
  return *r;
}

// Where the guest image is kept between runs.
std::string ImageCache() {
  const char* dir = std::getenv("AUTOVIBE_TEST_CACHE");
  return std::string(dir != nullptr ? dir : "/var/tmp/autovibe-test-cache") + "/debian-image";
}

}  // namespace

TEST_CASE("a Debian VM installs its agent with cloud-init, runs a task and is cloned",
          "[.debian]") {
  if (!LibvirtdAvailable()) {
    WARN(
        "libvirtd or qemu is not installed or we are not root: skipping "
        "(scripts/install-deps.sh)");
    return;
  }
  TempDir dir;
  const std::string prefix = "avd" + std::to_string(getpid());
  Libvirtd libvirtd(dir / "libvirt", prefix);
  std::string why;
  const std::string domain_type = libvirtd.DomainType(&why);
  if (domain_type != "kvm" && std::getenv("AUTOVIBE_VM_TEST_EMULATED") == nullptr) {
    WARN("KVM guests do not boot here (" << why
                                         << "): the Debian VM test is skipped (set "
                                            "AUTOVIBE_VM_TEST_EMULATED=1 to run it emulated, "
                                            "which takes minutes)");
    return;
  }
  const std::string image = ImageCache();
  const auto built = std::chrono::steady_clock::now();
  INFO(Sh("BUILD_DIR=" + std::string(AV_BIN_DIR) + "/.. " + std::string(AV_SOURCE_DIR) +
              "/scripts/build-debian-image.sh " + image + " 2>&1",
          1200s));
  WARN("guest image ready in " << std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::steady_clock::now() - built)
                                      .count()
                               << " s");
  // The agent, served to the guests from loopback (they reach it as 10.0.2.2).
  fs::create_directories(dir / "www");
  Sh("strip -o " + dir / "www/autovibe-agent" + " " + BinPath("autovibe-agent"));
  const std::string sha256 = Sh("sha256sum " + dir / "www/autovibe-agent").substr(0, 64);
  const uint16_t http_port = FreePort();
  ChildProcess http({"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1",
                     std::to_string(http_port), "--directory", dir / "www"},
                    dir / "http.log");
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"" << prefix
                        << "\"\nbackend = \"libvirt\"\nmax = 2\nboot_timeout = \"600s\"\n"
                           "[pool.libvirt]\nuri = \""
                        << libvirtd.uri() << "\"\ndomain_type = \"" << domain_type
                        << "\"\nbase_image = \"" << image << "/base.qcow2\"\nkernel = \"" << image
                        << "/vmlinuz\"\ninitrd = \"" << image
                        << "/initrd.img\"\ncmdline = \"root=/dev/vda rw console=ttyS0\"\n"
                           "memory_mib = 1024\nvcpus = 2\nnats_url = \"nats://10.0.2.2:"
                        << nats.port() << "\"\nagent_url = \"http://10.0.2.2:" << http_port
                        << "/autovibe-agent\"\nagent_sha256 = \"" << sha256 << "\"\nimages_dir = \""
                        << dir / "images"
                        << "\"\n[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});
  auto console = [&](const std::string& name) {
    std::ifstream in(dir / ("images/machines/" + name + "/console.log"));
    std::string all(std::istreambuf_iterator<char>(in), {});
    return all.size() > 6000 ? all.substr(all.size() - 6000) : all;
  };
  const auto deadline = domain_type != "kvm" ? 600s : 240s;

  const auto spawned = std::chrono::steady_clock::now();
  const std::string a = controller.SpawnMachine("{}");
  const std::string a_name = JsonString(controller.Machine(a), "name");
  {
    INFO(console(a_name));
    REQUIRE(WaitUntil([&] { return controller.MachineState(a) == "ready"; }, deadline, 1s));
  }
  WARN("the first VM's agent was ready " << std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::steady_clock::now() - spawned)
                                                .count()
                                         << " s after the spawn request");
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t =
      tasks.SubmitShell("demo",
                        {"sh", "-c",
                         "systemctl is-active autovibe-agent; cloud-init status --long; "
                         "grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | tail -n 8; "
                         "sha256sum /opt/autovibe/bin/autovibe-agent; echo kept > /root/m"},
                        {{"labels", {{"autovibe.machine", a}}}});
  REQUIRE(tasks.WaitState(t, "succeeded", 120s));
  INFO(tasks.Logs(t));
  CHECK_THAT(tasks.Logs(t), Catch::Contains("active") && Catch::Contains("status: done") &&
                                Catch::Contains(sha256 + "  /opt/autovibe/bin/autovibe-agent"));

  auto made = controller.Call("POST", "/v1/machines/" + a + "/checkpoints", std::nullopt,
                              R"({"kind":"machine"})");
  REQUIRE(made);
  INFO(made->body);
  REQUIRE(made->status == 201);
  const std::string cp =
      JsonString(json::parse(made->body).at("checkpoints").at(0).as_object(), "id");
  const std::string b = controller.SpawnMachine(R"({"from_checkpoint":")" + cp + R"("})");
  const std::string b_name = JsonString(controller.Machine(b), "name");
  {
    INFO(console(b_name));
    REQUIRE(WaitUntil([&] { return controller.MachineState(b) == "ready"; }, deadline, 1s));
  }
  const std::string t2 =
      tasks.SubmitShell("demo", {"cat", "/root/m"}, {{"labels", {{"autovibe.machine", b}}}});
  REQUIRE(tasks.WaitState(t2, "succeeded", 120s));
  CHECK_THAT(tasks.Logs(t2), Catch::Contains("kept"));

  for (const auto& [id, name] : {std::pair{a, a_name}, {b, b_name}}) {
    REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
    REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "terminated"; }, 120s));
    CHECK_FALSE(fs::exists(dir / ("images/machines/" + name)));
  }
}
