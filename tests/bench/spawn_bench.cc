// spawn_bench: time from a spawn request to the new machine's agent being ready, per backend.
// The controller stamps both ends itself (the machine's created_at when the request is taken,
// registered_at when its agent registers and the machine turns ready), so the figure is free of
// the client's polling; the client's own view (POST sent until GET says ready, polled every
// millisecond) is printed beside it.
// Target: local under 100 ms p50, a KVM clone of a machine checkpoint under 5 s; docker and a
// fresh VM boot are measured for reference (a container start, a VM from its base image). For
// reference, E2B advertises about 150 ms sandbox starts, Daytona under 90 ms, Morph under 250 ms to
// branch (advertised figures; none can run here). Real nats-server, controller and agents on
// loopback. Run it with ./scripts/bench.sh spawn.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "common/core/log.h"
#include "common/core/time.h"
#include "tests/bench/bench_output.h"
#include "tests/support/docker_daemon.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/libvirtd.h"
#include "tests/support/nats_server.h"

namespace autovibe::bench {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::ControllerProcess;
using testing::NatsServer;
using testing::TempDir;

constexpr double kTargetLocalP50Ms = 100;
constexpr double kTargetKvmSnapshotP50Ms = 5000;

struct Options {
  int spawns = 20;
  int vm_spawns = 5;
  std::vector<std::string> backends = {"local", "docker", "libvirt"};
};

// Spawns, waits for ready and terminates `spawns` machines (POST /v1/machines `body`) one after
// the other; prints the figures for `backend`.
int Measure(ControllerProcess& controller, const std::string& backend, const std::string& body,
            int spawns, std::chrono::seconds boot, double target_ms) {
  using testing::JsonString;
  std::vector<double> server_ms, client_ms;
  for (int i = 0; i < spawns; ++i) {
    const auto sent = SteadyClock::now();
    auto r = controller.Call("POST", "/v1/machines", std::nullopt, body);
    if (!r || r->status != 202) {
      Progress("spawn {} refused: {}", i, r ? r->body : r.error().message);
      return 1;
    }
    const std::string id = JsonString(json::parse(r->body).as_object(), "id");
    json::object m;
    const auto deadline = sent + boot;
    for (;;) {
      m = controller.Machine(id);
      if (JsonString(m, "state") == "ready") break;
      if (SteadyClock::now() > deadline || JsonString(m, "state") == "failed") {
        Progress("machine {} did not become ready: {}", id, json::serialize(m));
        return 1;
      }
      std::this_thread::sleep_for(1ms);
    }
    client_ms.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
    auto created = ParseRfc3339Ms(JsonString(m, "created_at"));
    auto ready = ParseRfc3339Ms(JsonString(m, "registered_at"));
    if (created && ready) server_ms.push_back(static_cast<double>(*ready - *created));
    // One at a time: the next spawn waits until this machine is gone.
    controller.Call("DELETE", "/v1/machines/" + id);
    while (controller.MachineState(id) != "terminated") {
      if (SteadyClock::now() > deadline + 30s) {
        Progress("machine {} was not terminated", id);
        return 1;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  const double p50 = Median(server_ms);
  JsonLine line;
  line.Str("bench", "spawn")
      .Str("backend", backend)
      .Int("spawns", static_cast<int64_t>(server_ms.size()))
      .Num("p50_ms", p50, 1)
      .Num("p90_ms", Percentile(server_ms, 90), 1)
      .Num("max_ms", *std::max_element(server_ms.begin(), server_ms.end()), 1)
      .Num("client_p50_ms", Median(client_ms), 1)
      .Num("e2b_advertised_ms", 150, 0)
      .Num("ratio_to_e2b", p50 / 150, 3);
  if (target_ms > 0) line.Num("target_p50_ms", target_ms, 0).Bool("target_met", p50 < target_ms);
  line.Print();
  return 0;
}

// A controller with the pool in `pool_toml` on a nats-server of its own, measured with "{}".
int Measure(const Options& o, const TempDir& dir, const std::string& backend,
            const std::string& pool_toml, double target_ms) {
  NatsServer nats(dir / ("nats-" + backend));
  const std::string config = dir / (backend + ".toml");
  std::ofstream(config) << pool_toml;
  ControllerProcess controller(dir / ("controller-" + backend), nats.url(), {"--config", config});
  return Measure(controller, backend, "{}", o.spawns, 30s, target_ms);
}

int RunLocal(const Options& o, const TempDir& dir) {
  return Measure(o, dir, "local",
                 "[[pool]]\nname = \"local\"\nbackend = \"local\"\nmax = 1\n"
                 "[pool.agent]\nupstreams = { anthropic = \"mock\", openai = \"mock\" }\n",
                 kTargetLocalP50Ms);
}

int RunDocker(const Options& o, const TempDir& dir) {
  if (!testing::DockerAvailable()) {
    Progress("docker: dockerd is not installed (scripts/install-deps.sh); skipped");
    return 0;
  }
  testing::DockerDaemon docker(dir / "docker");
  docker.BuildAgentImage("autovibe-agent:bench");
  return Measure(o, dir, "docker",
                 "[[pool]]\nname = \"boxes\"\nbackend = \"docker\"\nmax = 1\n"
                 "[pool.docker]\nsocket = \"" +
                     docker.socket() +
                     "\"\nimage = \"autovibe-agent:bench\"\n"
                     "[pool.agent]\nupstreams = { anthropic = \"mock\", openai = \"mock\" }\n",
                 0);
}

// VMs of the small image (scripts/build-vm-image.sh) under a libvirtd of the bench's own: a
// fresh boot, then clones of a machine checkpoint of a running machine (the target).
int RunLibvirt(const Options& o, const TempDir& dir) {
  if (!testing::LibvirtdAvailable()) {
    Progress("libvirt: libvirtd or qemu is not installed (scripts/install-deps.sh); skipped");
    return 0;
  }
  testing::Libvirtd libvirtd(dir / "libvirt", "avbench");
  std::string why;
  const std::string kind = libvirtd.DomainType(&why);
  if (kind != "kvm") Progress("libvirt: {}; the VMs are emulated (TCG)", why);
  testing::Libvirtd::BuildVmImage(dir / "image");
  NatsServer nats(dir / "nats-libvirt");
  const std::string config = dir / "libvirt.toml";
  std::ofstream(config) << "[[pool]]\nname = \"avbench\"\nbackend = \"libvirt\"\nmax = 2\n"
                           "boot_timeout = \"150s\"\n[pool.libvirt]\nuri = \""
                        << libvirtd.uri() << "\"\ndomain_type = \"" << kind << "\"\nbase_image = \""
                        << dir / "image/base.qcow2"
                        << "\"\nkernel = \"" << dir / "image/vmlinuz"
                        << "\"\ninitrd = \"" << dir / "image/initrd.img"
                        << "\"\ncmdline = \"console=ttyS0 quiet\"\nmemory_mib = 512\n"
                           "nats_url = \"nats://10.0.2.2:"
                        << nats.port() << "\"\nimages_dir = \"" << dir / "images"
                        << "\"\n[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
  ControllerProcess controller(dir / "controller-libvirt", nats.url(), {"--config", config});
  const std::string label = "libvirt-" + kind;
  if (int r = Measure(controller, label + "-fresh", "{}", o.vm_spawns, 150s, 0); r != 0) return r;
  // The machine the checkpoint is taken of stays up while its clones come and go.
  auto r = controller.Call("POST", "/v1/machines", std::nullopt, "{}");
  if (!r || r->status != 202) return 1;
  const std::string source = testing::JsonString(json::parse(r->body).as_object(), "id");
  if (!testing::WaitUntil([&] { return controller.MachineState(source) == "ready"; }, 150s)) {
    Progress("the source machine did not become ready");
    return 1;
  }
  auto cp = controller.Call("POST", "/v1/machines/" + source + "/checkpoints", std::nullopt,
                            R"({"kind":"machine"})");
  if (!cp || cp->status != 201) {
    Progress("no machine checkpoint: {}", cp ? cp->body : cp.error().message);
    return 1;
  }
  const std::string cp_id =
      testing::JsonString(json::parse(cp->body).at("checkpoints").at(0).as_object(), "id");
  return Measure(controller, label + "-from-snapshot", R"({"from_checkpoint":")" + cp_id + R"("})",
                 o.vm_spawns, 150s, kind == "kvm" ? kTargetKvmSnapshotP50Ms : 0);
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  using namespace autovibe::bench;
  Options o;
  CLI::App app{"spawn_bench: spawn request to agent ready, per backend"};
  app.add_option("--spawns", o.spawns, "machines to spawn per backend [20]");
  app.add_option("--vm-spawns", o.vm_spawns, "VMs to spawn per libvirt measure [5]");
  app.add_option("--backends", o.backends, "backends to measure [local docker libvirt]")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("spawn_bench", "warn");
  TempDir dir("autovibe-spawn-bench");
  autovibe::testing::KillOnExit cleanup(dir.path());
  int status = 0;
  for (const std::string& backend : o.backends) {
    Progress("{} backend: {} spawns", backend, backend == "libvirt" ? o.vm_spawns : o.spawns);
    if (backend == "local") {
      status |= RunLocal(o, dir);
    } else if (backend == "docker") {
      status |= RunDocker(o, dir);
    } else if (backend == "libvirt") {
      status |= RunLibvirt(o, dir);
    } else {
      Progress("unknown backend {}", backend);
      status = 1;
    }
  }
  return status;
}
