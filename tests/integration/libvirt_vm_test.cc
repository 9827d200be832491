// The libvirt backend with real VMs: a libvirtd the test starts, qemu:///system (KVM where a
// probe guest really boots, qemu's emulator elsewhere), the small VM image this tree builds
// (scripts/build-vm-image.sh). A machine boots, its agent joins the fleet from the NoCloud seed
// over the user-mode network and runs a task; a machine checkpoint freezes its disk; a machine
// cloned from it has the first one's files; the first machine reverted to it gets them back;
// terminated machines and deleted checkpoints leave nothing behind.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

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

// What a shell task run on `machine` printed; fails the test unless it succeeded.
std::string RunOn(TaskClient& tasks, const std::string& machine, const std::string& script,
                  std::chrono::seconds deadline = 60s) {
  const std::string t = tasks.SubmitShell("demo", {"sh", "-c", script},
                                          {{"labels", {{"autovibe.machine", machine}}}});
  INFO(tasks.Logs(t));
  REQUIRE(tasks.WaitState(t, "succeeded", deadline));
  return tasks.Logs(t);
}

}  // namespace

TEST_CASE("libvirt VMs boot, run tasks, are checkpointed, cloned and reverted",
          "[machines][libvirt][vm]") {
  if (!LibvirtdAvailable()) {
    WARN(
        "libvirtd or qemu is not installed or we are not root: skipping "
        "(scripts/install-deps.sh)");
    return;
  }
  TempDir dir;
  const std::string prefix = "avt" + std::to_string(getpid());
  Libvirtd libvirtd(dir / "libvirt", prefix);
  Libvirtd::BuildVmImage(dir / "image");
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  // The backend probes whether KVM guests boot here ("auto"); emulated a boot takes tens of
  // seconds, under KVM about one. These guests run from their initramfs, where bubblewrap
  // cannot pivot_root: their tasks run unboxed (the Debian VM test's guests, on a disk, box
  // theirs); the marker below is the machine's own disk.
  std::ofstream(config) << "[[pool]]\nname = \"" << prefix
                        << "\"\nbackend = \"libvirt\"\nmax = 2\nboot_timeout = \"150s\"\n"
                           "task_user = \"root\"\n"
                           "[pool.libvirt]\nuri = \""
                        << libvirtd.uri() << "\"\ndomain_type = \"auto\"\nbase_image = \""
                        << dir / "image/base.qcow2"
                        << "\"\nkernel = \"" << dir / "image/vmlinuz"
                        << "\"\ninitrd = \"" << dir / "image/initrd.img"
                        << "\"\ncmdline = \"console=ttyS0 panic=-1\"\nmemory_mib = 512\n"
                           "nats_url = \"nats://10.0.2.2:"
                        << nats.port() << "\"\nimages_dir = \"" << dir / "images"
                        << "\"\n[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});
  auto console = [&](const std::string& name) {
    std::ifstream in(dir / ("images/machines/" + name + "/console.log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  };

  const std::string a = controller.SpawnMachine("{}");
  const std::string a_name = JsonString(controller.Machine(a), "name");
  {
    INFO(console(a_name));
    REQUIRE(WaitUntil([&] { return controller.MachineState(a) == "ready"; }, 150s));
  }
  CHECK(JsonString(controller.Machine(a), "backend") == "libvirt");
  CHECK(JsonString(controller.Machine(a), "instance") == a_name);
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  CHECK_THAT(RunOn(tasks, a, "echo kept > /var/lib/autovibe/marker; hostname"),
             Catch::Contains(a_name));

  // A machine checkpoint freezes the disk.
  auto made = controller.Call("POST", "/v1/machines/" + a + "/checkpoints", std::nullopt,
                              R"({"kind":"machine"})");
  REQUIRE(made);
  INFO(made->body);
  REQUIRE(made->status == 201);
  const json::object cp = json::parse(made->body).at("checkpoints").at(0).as_object();
  CHECK(JsonString(cp, "state") == "ready");
  const std::string cp_id = JsonString(cp, "id");
  CHECK(fs::exists(dir / ("images/checkpoints/" + cp_id + ".qcow2")));
  // The machine goes on writing, on top of it.
  RunOn(tasks, a, "echo changed > /var/lib/autovibe/marker");

  // A machine cloned from the checkpoint has the disk as it was.
  const std::string b = controller.SpawnMachine(R"({"from_checkpoint":")" + cp_id + R"("})");
  const std::string b_name = JsonString(controller.Machine(b), "name");
  {
    INFO(console(b_name));
    REQUIRE(WaitUntil([&] { return controller.MachineState(b) == "ready"; }, 150s));
  }
  CHECK(JsonString(controller.Machine(b), "spawned_from") == cp_id);
  CHECK_THAT(RunOn(tasks, b, "cat /var/lib/autovibe/marker; hostname"),
             Catch::Contains("kept") && Catch::Contains(b_name));

  // Restoring the checkpoint reverts the machine it was taken of: it boots again as itself,
  // with the disk as it was.
  auto restored = controller.Call("POST", "/v1/checkpoints/" + cp_id + "/restore");
  REQUIRE(restored);
  INFO(restored->body);
  REQUIRE(restored->status == 200);
  CHECK(JsonString(json::parse(restored->body).as_object(), "machine_id") == a);
  CHECK(JsonString(json::parse(restored->body).as_object(), "kind") == "machine");
  // A task for it waits until its agent is back (the old one went with the old disk).
  CHECK_THAT(RunOn(tasks, a, "cat /var/lib/autovibe/marker", 150s), Catch::Contains("kept"));

  // Terminated machines leave no domain and no files; the checkpoint goes when deleted.
  for (const auto& [id, name] : {std::pair{a, a_name}, {b, b_name}}) {
    REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
    REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "terminated"; }, 60s));
    CHECK_FALSE(fs::exists(dir / ("images/machines/" + name)));
  }
  auto deleted = controller.Call("DELETE", "/v1/checkpoints/" + cp_id);
  REQUIRE(deleted);
  CHECK(deleted->status == 200);
  CHECK_FALSE(fs::exists(dir / ("images/checkpoints/" + cp_id + ".qcow2")));
}
