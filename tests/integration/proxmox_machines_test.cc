// The proxmox backend against tests/fakes/fake_proxmox (no Proxmox VE can run here): clone from
// a template with the agent's cloud-init snippet, start, snapshot, clone from the snapshot,
// stop and delete, each waiting on its task; refusals and failed tasks come back as errors. And
// through the controller: a Proxmox machine whose agent never registers is failed and deleted.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "controller/provisioners/proxmox_provisioner.h"
#include "tests/fakes/fake_proxmox.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/user_data.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kToken = "root@pam!autovibe=0b5c2f3e-6d1a-4c53-9b7e-2a1d4e5f6a7b";

ProxmoxBackendOptions Options(const FakeProxmox& pve, const std::string& snippets) {
  ProxmoxBackendOptions o;
  o.url = pve.url();
  o.token = kToken;
  o.node = "pve1";
  o.template_vmid = "9000";
  o.snippets_storage = "local";
  o.snippets_dir = snippets;
  o.poll_every = 10ms;
  o.task_timeout = 10s;
  o.agent_toml = "task_slots = 1\n";
  o.templates_dir = std::string(AV_SOURCE_DIR) + "/templates";
  return o;
}

MachineLaunch Launch(const std::string& id, const std::string& name) {
  MachineLaunch l;
  l.machine_id = id;
  l.name = name;
  l.pool = "pve";
  l.agent.nats_url = "nats://10.0.0.5:4222";
  l.agent.nats_user = id;
  l.agent.nats_password = "s3cret";
  return l;
}

}  // namespace

TEST_CASE("the proxmox backend clones, configures, snapshots and deletes VMs", "[machines]") {
  TempDir dir;
  FakeProxmox pve("pve1", kToken);
  REQUIRE(pve.Start());
  pve.AddVm(9000, {.name = "autovibe-worker", .is_template = true});
  auto prov = MakeProxmoxProvisioner(Options(pve, dir.path()));
  CHECK(prov->CanSnapshot());

  auto a = prov->Create(Launch("m-0000000000a1", "pve-1"));
  REQUIRE(a);
  CHECK(*a == "pve1/100");
  auto vms = pve.Vms();
  REQUIRE(vms.count(100));
  CHECK(vms[100].name == "pve-1");
  CHECK(vms[100].cloned_from == "9000");
  CHECK_FALSE(vms[100].full_clone);  // linked, from the template
  CHECK(vms[100].status == "running");
  CHECK(vms[100].config["cicustom"] == "user=local:snippets/autovibe-pve-1.yaml");
  // The snippet is cloud-init user data carrying the agent's settings.
  const std::string snippet = ReadFile(dir / "autovibe-pve-1.yaml").value();
  CHECK(snippet.starts_with("#cloud-config\n"));
  CHECK_THAT(WrittenFile(snippet, "/etc/autovibe/agent.toml"),
             Catch::Contains("machine_id = 'm-0000000000a1'"));
  CHECK_THAT(WrittenFile(snippet, "/etc/systemd/system/autovibe-agent.service"),
             Catch::Contains("ExecStart=/opt/autovibe/bin/autovibe-agent"));
  CHECK_THAT(WrittenFile(snippet, "/etc/autovibe/agent.toml"),
             Catch::Contains("nats://10.0.0.5:4222"));
  CHECK((fs::status(dir / "autovibe-pve-1.yaml").permissions() & fs::perms::others_read) ==
        fs::perms::none);

  // A machine checkpoint is a snapshot; a machine cloned from it is a full clone of it.
  auto snap = prov->Snapshot("pve-1", *a, "cp-1a2b3c");
  REQUIRE(snap);
  CHECK(*snap == "pve1/100/cp-1a2b3c");
  CHECK(pve.Vms()[100].snapshots.count("cp-1a2b3c"));
  auto launch = Launch("m-0000000000a2", "pve-2");
  launch.from_snapshot = *snap;
  auto b = prov->Create(launch);
  REQUIRE(b);
  vms = pve.Vms();
  CHECK(vms[101].cloned_from == "100@cp-1a2b3c");
  CHECK(vms[101].full_clone);
  CHECK(vms[101].status == "running");

  // Reverting the first VM rolls it back to its snapshot and starts it again; a snapshot of
  // another VM is refused.
  REQUIRE(prov->Revert("pve-1", *a, *snap));
  vms = pve.Vms();
  CHECK(vms[100].rolled_back_to == "cp-1a2b3c");
  CHECK(vms[100].status == "running");
  auto foreign = prov->Revert("pve-2", *b, *snap);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().code == ErrorCode::kBadRequest);
  CHECK(pve.Vms()[101].rolled_back_to.empty());

  // Destroy stops and deletes the VM and its snippet; gone already is fine.
  REQUIRE(prov->Destroy("pve-2", *b));
  CHECK_FALSE(pve.Vms().count(101));
  CHECK_FALSE(fs::exists(dir / "autovibe-pve-2.yaml"));
  REQUIRE(prov->Destroy("pve-2", *b));
  REQUIRE(prov->DeleteSnapshot(*snap));
  CHECK(pve.Vms()[100].snapshots.empty());

  // A failed task is an error that says why, and leaves no VM behind.
  pve.FailNextTask("clone failed: storage 'local-lvm' is full");
  auto full = prov->Create(Launch("m-0000000000a3", "pve-3"));
  REQUIRE_FALSE(full);
  CHECK_THAT(full.error().message, Catch::Contains("storage 'local-lvm' is full"));
  CHECK(pve.Vms().size() == 2);  // the template and pve-1
  CHECK_FALSE(fs::exists(dir / "autovibe-pve-3.yaml"));

  // A snapshot that does not exist, a wrong token.
  auto bad = Launch("m-0000000000a4", "pve-4");
  bad.from_snapshot = "pve1/100/cp-nope";
  auto missing = prov->Create(bad);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("does not exist"));
  auto o = Options(pve, dir.path());
  o.token = "root@pam!autovibe=wrong";
  auto refused = MakeProxmoxProvisioner(o)->Create(Launch("m-0000000000a5", "pve-5"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthorized);
  CHECK(pve.unauthorized() >= 1);
  REQUIRE(prov->Destroy("pve-1", *a));
  CHECK(pve.Vms().size() == 1);

  // A controller that stopped before it learnt the VM's id still finds it by name.
  auto lost = prov->Create(Launch("m-0000000000a6", "pve-6"));
  REQUIRE(lost);
  CHECK(pve.Vms().size() == 2);
  REQUIRE(prov->Destroy("pve-6", ""));
  CHECK(pve.Vms().size() == 1);
}

TEST_CASE("a proxmox machine whose agent never registers is failed and deleted", "[machines]") {
  TempDir dir;
  FakeProxmox pve("pve1", kToken);
  REQUIRE(pve.Start());
  pve.AddVm(9000, {.name = "autovibe-worker", .is_template = true});
  NatsServer nats(dir / "nats");
  fs::create_directories(dir / "snippets");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"pve\"\nbackend = \"proxmox\"\nmax = 2\n"
                           "boot_timeout = \"2s\"\n[pool.proxmox]\nurl = \""
                        << pve.url() << "\"\ntoken = \"" << kToken
                        << "\"\nnode = \"pve1\"\ntemplate = 9000\nsnippets_dir = \""
                        << (dir / "snippets") << "\"\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});
  auto r = controller.Call("POST", "/v1/machines", std::nullopt, R"({"pool":"pve"})");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  const std::string id(json::parse(r->body).at("id").as_string());
  auto state = [&] {
    auto m = controller.Call("GET", "/v1/machines/" + id);
    return m && m->status == 200 ? std::string(json::parse(m->body).at("state").as_string())
                                 : std::string();
  };
  REQUIRE(WaitUntil([&] { return state() == "booting"; }, 10s));
  CHECK(pve.Vms().count(100));
  REQUIRE(WaitUntil([&] { return state() == "failed"; }, 10s));
  REQUIRE(WaitUntil([&] { return pve.Vms().size() == 1; }, 10s));
  CHECK_FALSE(fs::exists(dir / "snippets/autovibe-pve-1.yaml"));
}
