// The libvirt backend against libvirt's own test driver (test:///default, in this process):
// a machine is a defined, running domain on a qcow2 overlay of the pool's base image with a
// NoCloud seed; a destroyed machine leaves nothing behind; hostile names and failures change
// nothing. Checkpoints, clones and reverts need qemu (libvirt_vm_test.cc).
#include <libvirt/libvirt.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "common/core/files.h"
#include "common/core/run_program.h"
#include "controller/provisioners/kvm_probe.h"
#include "controller/provisioners/libvirt_provisioner.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/support/user_data.h"

using namespace autovibe;
using namespace autovibe::testing;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string Run(std::vector<std::string> argv) {
  auto r = RunProgram({std::move(argv)});
  REQUIRE(r);
  return *r;
}

// The file a qcow2 image is an overlay on, as qemu-img reads it from the image itself.
std::string BackingOf(const std::string& image) {
  json::value info = json::parse(Run({"qemu-img", "info", "--output=json", image}));
  const json::value* b = info.as_object().if_contains("backing-filename");
  return b == nullptr ? "" : std::string(b->as_string());
}

// A connection of the test's own to the driver state the provisioner's connection keeps.
class TestDriver {
 public:
  TestDriver() : conn_(virConnectOpen("test:///default")) { REQUIRE(conn_ != nullptr); }
  ~TestDriver() { virConnectClose(conn_); }
  // "" when there is no such domain; else its XML, "running " or "stopped " first.
  std::string Domain(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
    if (d == nullptr) return "";
    char* xml = virDomainGetXMLDesc(d, 0);
    std::string out = std::string(virDomainIsActive(d) == 1 ? "running " : "stopped ") + xml;
    free(xml);
    virDomainFree(d);
    return out;
  }
  // The names of the domains (running or not) that start with `prefix`.
  std::vector<std::string> Names(std::string_view prefix) {
    std::vector<std::string> out;
    virDomainPtr* all = nullptr;
    const int n = virConnectListAllDomains(conn_, &all, 0);
    for (int i = 0; i < n; ++i) {
      if (std::string_view(virDomainGetName(all[i])).starts_with(prefix)) {
        out.emplace_back(virDomainGetName(all[i]));
      }
      virDomainFree(all[i]);
    }
    free(all);
    return out;
  }

 private:
  virConnectPtr conn_;
};

MachineLaunch Launch(const std::string& id, const std::string& name, std::string from = "") {
  MachineLaunch l;
  l.machine_id = id;
  l.name = name;
  l.pool = "vms";
  l.agent.nats_url = "nats://10.0.2.2:4222";
  l.agent.nats_user = "m-" + id;
  l.agent.nats_password = "secret-" + id;
  l.from_snapshot = std::move(from);
  return l;
}

struct Fixture {
  Fixture() {
    o.uri = "test:///default";
    o.domain_template = std::string(AV_SOURCE_DIR) + "/templates/libvirt/worker.xml";
    o.base_image = dir / "base.qcow2";
    o.images_dir = dir / "images";
    o.domain_type = "test";
    o.templates_dir = std::string(AV_SOURCE_DIR) + "/templates";
    Run({"qemu-img", "create", "-q", "-f", "qcow2", o.base_image, "64M"});
    prov = MakeLibvirtProvisioner(o);
  }
  std::string Machine(const std::string& name, const std::string& file = "") const {
    return o.images_dir + "/machines/" + name + (file.empty() ? "" : "/" + file);
  }
  TempDir dir;
  LibvirtBackendOptions o;
  std::unique_ptr<Provisioner> prov;
  TestDriver driver;
};

}  // namespace

TEST_CASE("libvirt machines: a domain on an overlay with a NoCloud seed, destroyed without a trace",
          "[machines][libvirt]") {
  Fixture f;
  auto a = f.prov->Create(Launch("m-a", "vms-1"));
  REQUIRE(a);
  CHECK(*a == "vms-1");
  const std::string dom = f.driver.Domain("vms-1");
  REQUIRE_THAT(dom, Catch::StartsWith("running "));
  CHECK_THAT(dom, Catch::Contains(f.Machine("vms-1", "disk.qcow2")) &&
                      Catch::Contains(f.Machine("vms-1", "seed.iso")) &&
                      Catch::Contains("autovibe machine m-a of pool vms"));
  // The disk is an overlay on the base image; the seed is a NoCloud volume with the agent's
  // settings, its own bus credentials among them.
  CHECK(BackingOf(f.Machine("vms-1", "disk.qcow2")) == f.o.base_image);
  CHECK_THAT(Run({"isoinfo", "-d", "-i", f.Machine("vms-1", "seed.iso")}),
             Catch::Contains("Volume id: cidata"));
  const std::string user_data =
      Run({"isoinfo", "-R", "-i", f.Machine("vms-1", "seed.iso"), "-x", "/user-data"});
  CHECK_THAT(user_data, Catch::StartsWith("#cloud-config"));
  CHECK_THAT(WrittenFile(user_data, "/etc/autovibe/agent.toml"),
             Catch::Contains("machine_id = 'm-a'") && Catch::Contains("secret-m-a") &&
                 Catch::Contains("nats://10.0.2.2:4222"));
  // cloud-init itself accepts it (templates/cloud-init/agent.yaml, filled in).
  WriteFileAtomic(f.dir / "user-data.yaml", user_data, 0600).value();
  CHECK_THAT(Run({"cloud-init", "schema", "--config-file", f.dir / "user-data.yaml"}),
             Catch::Contains("Valid"));
  CHECK_THAT(Run({"isoinfo", "-R", "-i", f.Machine("vms-1", "seed.iso"), "-x", "/meta-data"}),
             Catch::Contains("instance-id: m-a"));

  // The test driver cannot take external disk snapshots (qemu:///system can, see
  // libvirt_vm_test.cc): the checkpoint fails with libvirt's reason and changes nothing.
  auto ref = f.prov->Snapshot("vms-1", "vms-1", "cp-1");
  REQUIRE_FALSE(ref);
  CHECK_THAT(ref.error().message, Catch::Contains("cannot snapshot vms-1"));
  CHECK_FALSE(fs::exists(f.o.images_dir + "/checkpoints/cp-1.qcow2"));
  CHECK_FALSE(fs::exists(f.Machine("vms-1", "disk-cp-1.qcow2")));
  CHECK_THAT(f.driver.Domain("vms-1"), Catch::StartsWith("running "));
  // Nor can a machine be cloned from, or reverted to, a checkpoint that does not exist.
  auto gone = f.prov->Create(Launch("m-c", "vms-3", "cp-1"));
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ErrorCode::kNotFound);
  CHECK(f.driver.Domain("vms-3").empty());
  CHECK_FALSE(fs::exists(f.Machine("vms-3")));
  CHECK_FALSE(f.prov->Revert("vms-1", "vms-1", "cp-1"));
  CHECK_THAT(f.driver.Domain("vms-1"), Catch::StartsWith("running "));

  // A second machine of the pool; destroying the first leaves it be.
  auto b = f.prov->Create(Launch("m-b", "vms-2"));
  REQUIRE(b);
  REQUIRE(f.prov->Destroy("vms-1", "vms-1"));
  CHECK(f.driver.Domain("vms-1").empty());
  CHECK_FALSE(fs::exists(f.Machine("vms-1")));
  CHECK_THAT(f.driver.Domain("vms-2"), Catch::StartsWith("running "));
  CHECK(BackingOf(f.Machine("vms-2", "disk.qcow2")) == f.o.base_image);
  REQUIRE(f.prov->Destroy("vms-2", "vms-2"));
  CHECK(f.driver.Domain("vms-2").empty());
  CHECK_FALSE(fs::exists(f.Machine("vms-2")));
  CHECK(f.prov->Destroy("vms-2", "vms-2"));  // gone already: fine
}

TEST_CASE("libvirt machines: hostile names and a failed create change nothing",
          "[machines][libvirt]") {
  Fixture f;
  for (const std::string bad : {"../../etc", "a/b", ".hidden", "", "x'y"}) {
    INFO(bad);
    auto clone = f.prov->Create(Launch("m-x", "vms-9", bad));
    if (bad.empty()) {
      // No checkpoint: a fresh machine; removed again below.
      REQUIRE(clone);
      REQUIRE(f.prov->Destroy("vms-9", *clone));
      continue;
    }
    REQUIRE_FALSE(clone);
    CHECK(clone.error().code == ErrorCode::kBadRequest);
    CHECK(f.driver.Domain("vms-9").empty());
    CHECK_FALSE(fs::exists(f.Machine("vms-9")));
    auto named = f.prov->Create(Launch("m-x", bad));
    REQUIRE_FALSE(named);
    CHECK(named.error().code == ErrorCode::kBadRequest);
    CHECK_FALSE(f.prov->Snapshot("vms-9", "vms-9", bad));
    CHECK_FALSE(f.prov->DeleteSnapshot(bad));
  }
  CHECK_FALSE(fs::exists(f.o.images_dir + "/etc"));

  // A name libvirt already has is refused, and the domain that has it is left alone.
  REQUIRE(f.prov->Create(Launch("m-z", "vms-7")));
  auto twice = f.prov->Create(Launch("m-w", "vms-7"));
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == ErrorCode::kConflict);
  CHECK_THAT(f.driver.Domain("vms-7"), Catch::StartsWith("running ") && Catch::Contains("m-z"));
  CHECK(fs::exists(f.Machine("vms-7", "disk.qcow2")));
  REQUIRE(f.prov->Destroy("vms-7", "vms-7"));

  // A base image that went away: qemu-img's error comes back and nothing is left.
  fs::remove(f.o.base_image);
  auto failed = f.prov->Create(Launch("m-y", "vms-8"));
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message, Catch::Contains("qemu-img"));
  CHECK(f.driver.Domain("vms-8").empty());
  CHECK_FALSE(fs::exists(f.Machine("vms-8")));

  // A template with a placeholder nobody fills is refused before anything is defined.
  CHECK_FALSE(RenderDomainXml("<name>{{nope}}</name>", {{"name", "x"}}));
  CHECK_FALSE(RenderDomainXml("<name>{{name</name>", {{"name", "x"}}));
  auto xml = RenderDomainXml("<name>{{name}}</name>", {{"name", "a<b>&'\""}});
  REQUIRE(xml);
  CHECK(*xml == "<name>a&lt;b&gt;&amp;&apos;&quot;</name>");
}

TEST_CASE("libvirt: KVM is chosen only when a probe guest really boots", "[machines][libvirt]") {
  // The test driver's guests never end: a guest that does not get through its boot in time is
  // judged not to boot, and the probe leaves no domain behind.
  TestDriver driver;
  const KvmProbe hung =
      ProbeKvm("test:///default", "/boot/no-such-kernel", std::chrono::milliseconds(300));
  CHECK_FALSE(hung.boots);
  CHECK_THAT(hung.detail, Catch::Contains("did not boot its kernel within 300ms"));
  CHECK(driver.Names("autovibe-kvm-probe").empty());
  const KvmProbe no_kernel = ProbeKvm("test:///default", "", std::chrono::seconds(1));
  CHECK_FALSE(no_kernel.boots);
  CHECK_THAT(no_kernel.detail, Catch::Contains("no kernel"));
  const KvmProbe no_host = ProbeKvm("test:///no/such/driver/x", "/boot/k", std::chrono::seconds(1));
  CHECK_FALSE(no_host.boots);
  CHECK_THAT(no_host.detail, Catch::Contains("cannot connect"));
  // libvirt's test driver takes domains of its own type; nothing is probed there.
  CHECK(ChooseDomainType("test:///default", "") == "test");
}
