#include "controller/provisioners/libvirt_provisioner.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/core/files.h"
#include "common/core/run_program.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/cloud_init.h"
#include "controller/provisioners/kvm_probe.h"
#include "controller/provisioners/libvirt_util.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;

// Checkpoint refs and machine names become file names: nothing but [A-Za-z0-9._-], no dot
// first.
bool SafeName(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.front() == '.') return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

struct DomainCloser {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using Domain = std::unique_ptr<virDomain, DomainCloser>;

class LibvirtProvisioner final : public Provisioner {
 public:
  explicit LibvirtProvisioner(LibvirtBackendOptions o) : o_(std::move(o)) {
    SilenceLibvirtErrors();
  }
  ~LibvirtProvisioner() override {
    if (conn_ != nullptr) virConnectClose(conn_);
  }

  std::string_view backend() const override { return "libvirt"; }
  bool CanSnapshot() const override { return true; }

  Result<std::string> Create(const MachineLaunch& launch) override {
    if (!SafeName(launch.name))
      return MakeError(ErrorCode::kBadRequest, "bad machine name " + launch.name);
    // A domain of that name that is not ours to make (nor, on failure, to remove).
    if (auto existing = Lookup(launch.name);
        existing || existing.error().code != ErrorCode::kNotFound) {
      return existing
                 ? MakeError(ErrorCode::kConflict, "libvirt already has a domain " + launch.name)
                 : existing.error();
    }
    auto made = Make(launch);
    if (!made) Destroy(launch.name, launch.name);
    return made;
  }

  Result<void> Destroy(const std::string& name, const std::string& instance) override {
    const std::string domain_name = instance.empty() ? name : instance;
    if (!SafeName(domain_name))
      return MakeError(ErrorCode::kBadRequest, "bad domain name " + domain_name);
    auto found = Lookup(domain_name);
    if (!found && found.error().code != ErrorCode::kNotFound) return found.error();
    if (found) {
      virDomainPtr dom = found->get();
      if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) != 0 &&
          LibvirtLastErrorCode() != VIR_ERR_OPERATION_INVALID) {
        return MakeError(ErrorCode::kUnavailable,
                         "libvirt: cannot stop " + domain_name + ": " + LibvirtLastError());
      }
      const unsigned flags = VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM |
                             VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
      int undefined = virDomainUndefineFlags(dom, flags);
      if (undefined != 0 && LibvirtLastErrorCode() == VIR_ERR_INVALID_ARG) {
        // A driver without NVRAM or checkpoints (the test driver) refuses those flags.
        undefined = virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
      }
      if (undefined != 0 && LibvirtLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        return MakeError(ErrorCode::kUnavailable,
                         "libvirt: cannot undefine " + domain_name + ": " + LibvirtLastError());
      }
    }
    std::error_code ec;
    fs::remove_all(MachineDir(domain_name), ec);
    if (ec)
      return MakeError(ErrorCode::kUnavailable,
                       "cannot remove " + MachineDir(domain_name) + ": " + ec.message());
    return {};
  }

  Result<std::string> Snapshot(const std::string& name, const std::string& instance,
                               const std::string& snapshot) override {
    const std::string domain_name = instance.empty() ? name : instance;
    if (!SafeName(domain_name) || !SafeName(snapshot)) {
      return MakeError(ErrorCode::kBadRequest, "bad machine or checkpoint name");
    }
    std::lock_guard disks(disks_mu_);  // one change of a disk chain at a time
    auto dom = Lookup(domain_name);
    if (!dom) return dom.error();
    const std::string dir = MachineDir(domain_name);
    auto active = ActiveDisk(dir);
    if (!active) return active.error();
    if (auto r = MakeDirs(CheckpointsDir(), 0700); !r) return r.error();
    const std::string next = dir + "/disk-" + snapshot + ".qcow2";
    // The new overlay is made here (and libvirt told to use it), as for every other disk.
    if (auto r = Overlay(dir + "/" + *active, next); !r) return r.error();
    const std::string xml =
        "<domainsnapshot><name>" + XmlEscape(snapshot) +
        "</name><description>autovibe machine checkpoint</description>"
        "<memory snapshot='no'/><disks>"
        "<disk name='vda' snapshot='external' type='file'><driver type='qcow2'/><source file='" +
        XmlEscape(next) +
        "'/></disk>"
        "<disk name='vdb' snapshot='no'/></disks></domainsnapshot>";
    virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(
        dom->get(), xml.c_str(),
        VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT |
            VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
    if (snap == nullptr) {
      std::error_code ec;
      fs::remove(next, ec);
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot snapshot " + domain_name + ": " + LibvirtLastError());
    }
    virDomainSnapshotFree(snap);
    // The frozen disk is read-only from now on; the checkpoint is a second name for it.
    const std::string frozen = dir + "/" + *active;
    if (link(frozen.c_str(), CheckpointPath(snapshot).c_str()) != 0) {
      return MakeError(ErrorCode::kUnavailable, "cannot keep " + frozen + " as checkpoint " +
                                                    snapshot + ": " + std::strerror(errno));
    }
    if (auto r = SetActiveDisk(dir, "disk-" + snapshot + ".qcow2"); !r) return r.error();
    return snapshot;
  }

  Result<void> DeleteSnapshot(const std::string& ref) override {
    if (!SafeName(ref)) return MakeError(ErrorCode::kBadRequest, "bad checkpoint ref " + ref);
    std::error_code ec;
    fs::remove(CheckpointPath(ref), ec);
    if (ec)
      return MakeError(ErrorCode::kUnavailable,
                       "cannot remove checkpoint " + ref + ": " + ec.message());
    return {};
  }

  bool CanRevert() const override { return true; }

  Result<void> Revert(const std::string& name, const std::string& instance,
                      const std::string& ref) override {
    const std::string domain_name = instance.empty() ? name : instance;
    if (!SafeName(domain_name) || !SafeName(ref)) {
      return MakeError(ErrorCode::kBadRequest, "bad machine name or checkpoint ref");
    }
    std::lock_guard disks(disks_mu_);
    auto dom = Lookup(domain_name);
    if (!dom) return dom.error();
    const std::string dir = MachineDir(domain_name);
    auto active = ActiveDisk(dir);
    if (!active) return active.error();
    // A fresh overlay on (a link of) the checkpoint's disk, swapped in for the current one.
    const std::string tag = "revert-" + std::to_string(RevertCount(dir) + 1);
    const std::string base = dir + "/" + tag + "-base.qcow2";
    const std::string disk = dir + "/" + tag + ".qcow2";
    auto swapped = SwapDisk(**dom, ref, base, disk);
    if (!swapped) {
      std::error_code ec;
      fs::remove(disk, ec);
      fs::remove(base, ec);
      return swapped;
    }
    if (auto r = SetActiveDisk(dir, tag + ".qcow2"); !r) return r;
    // The disk it ran on is nobody's backing (a checkpoint's disk is linked, and kept).
    struct stat st {};
    const std::string old = dir + "/" + *active;
    if (stat(old.c_str(), &st) == 0 && st.st_nlink == 1) unlink(old.c_str());
    if (virDomainCreate(dom->get()) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot start " + domain_name + ": " + LibvirtLastError());
    }
    return {};
  }

 private:
  // Stops the domain and defines it again on `disk`, a new overlay on `base`, a link of the
  // checkpoint `ref`.
  Result<void> SwapDisk(virDomain& dom, const std::string& ref, const std::string& base,
                        const std::string& disk) {
    if (auto r = LinkCheckpoint(ref, base); !r) return r;
    if (auto r = Overlay(base, disk); !r) return r;
    char* raw = virDomainGetXMLDesc(&dom, VIR_DOMAIN_XML_INACTIVE);
    if (raw == nullptr) return MakeError(ErrorCode::kUnavailable, "libvirt: " + LibvirtLastError());
    std::string xml(raw);
    free(raw);
    if (!SetSystemDisk(xml, disk)) {
      return MakeError(ErrorCode::kUnavailable, "the domain's definition has no disk vda");
    }
    if (virDomainIsActive(&dom) == 1 && virDomainDestroy(&dom) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot stop the domain: " + LibvirtLastError());
    }
    Domain redefined(virDomainDefineXML(virDomainGetConnect(&dom), xml.c_str()));
    if (redefined == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot define the domain again: " + LibvirtLastError());
    }
    return {};
  }

  std::string MachineDir(const std::string& name) const {
    return o_.images_dir + "/machines/" + name;
  }
  std::string CheckpointsDir() const { return o_.images_dir + "/checkpoints"; }
  std::string CheckpointPath(const std::string& ref) const {
    return CheckpointsDir() + "/" + ref + ".qcow2";
  }

  // Points the <disk> whose target is vda at `file` (and drops the backing chain libvirt
  // wrote down for it: qemu reads the new one from the file).
  static bool SetSystemDisk(std::string& xml, const std::string& file) {
    const size_t target = xml.find("<target dev='vda'");
    if (target == std::string::npos) return false;
    const size_t start = xml.rfind("<disk ", target);
    const size_t end = xml.find("</disk>", target);
    if (start == std::string::npos || end == std::string::npos) return false;
    std::string disk = xml.substr(start, end - start);
    const size_t source = disk.find("<source file='");
    if (source == std::string::npos) return false;
    const size_t value = source + std::string_view("<source file='").size();
    const size_t quote = disk.find('\'', value);
    if (quote == std::string::npos) return false;
    disk.replace(value, quote - value, XmlEscape(file));
    if (size_t b = disk.find("<backingStore"); b != std::string::npos) {
      // Nested: the outermost element closes last.
      constexpr std::string_view kEmpty = "<backingStore/>", kClose = "</backingStore>";
      const size_t close = disk.rfind(kClose);
      if (disk.compare(b, kEmpty.size(), kEmpty) == 0) {
        disk.erase(b, kEmpty.size());
      } else if (close != std::string::npos && close > b) {
        disk.erase(b, close + kClose.size() - b);
      }
    }
    xml.replace(start, end - start, disk);
    return true;
  }

  // Which file of the machine's dir is its disk now (it moves at each checkpoint).
  static Result<std::string> ActiveDisk(const std::string& dir) {
    auto r = ReadFile(dir + "/active-disk");
    if (!r) return r.error();
    return r->substr(0, r->find('\n'));
  }
  static Result<void> SetActiveDisk(const std::string& dir, const std::string& file) {
    return WriteFileAtomic(dir + "/active-disk", file + "\n", 0600);
  }
  static int RevertCount(const std::string& dir) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      n += e.path().filename().string().ends_with("-base.qcow2");
    }
    return n;
  }

  Result<void> LinkCheckpoint(const std::string& ref, const std::string& to) {
    if (!SafeName(ref)) return MakeError(ErrorCode::kBadRequest, "bad checkpoint ref " + ref);
    const std::string from = CheckpointPath(ref);
    if (link(from.c_str(), to.c_str()) != 0) {
      return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                       "cannot use checkpoint " + ref + ": " + std::strerror(errno));
    }
    return {};
  }

  static Result<void> Overlay(const std::string& backing, const std::string& disk) {
    auto r = RunProgram(
        {{"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, disk}});
    if (!r) return r.error();
    return {};
  }

  Result<std::string> Make(MachineLaunch launch) {
    if (!o_.nats_url.empty()) launch.agent.nats_url = o_.nats_url;
    const std::string dir = MachineDir(launch.name);
    if (auto r = MakeDirs(dir, 0700); !r) return r.error();
    std::string backing = o_.base_image;
    if (!launch.from_snapshot.empty()) {
      backing = dir + "/base.qcow2";
      if (auto r = LinkCheckpoint(launch.from_snapshot, backing); !r) return r.error();
    }
    if (auto r = Overlay(backing, dir + "/disk.qcow2"); !r) return r.error();
    if (auto r = SetActiveDisk(dir, "disk.qcow2"); !r) return r.error();
    if (auto r = Seed(launch, dir); !r) return r.error();
    std::string boot;
    if (!o_.kernel.empty()) {
      boot = "<kernel>" + XmlEscape(o_.kernel) + "</kernel>";
      if (!o_.initrd.empty()) boot += "<initrd>" + XmlEscape(o_.initrd) + "</initrd>";
      if (!o_.cmdline.empty()) boot += "<cmdline>" + XmlEscape(o_.cmdline) + "</cmdline>";
    }
    // No network boot ROM: machines boot from their disk or kernel, and iPXE costs a second.
    const std::string network =
        o_.network == "user"
            ? "<interface type='user'><model type='virtio'/><rom enabled='no'/></interface>"
            : "<interface type='network'><source network='" + XmlEscape(o_.network) +
                  "'/><model type='virtio'/><rom enabled='no'/></interface>";
    auto tpl = ReadFile(o_.domain_template);
    if (!tpl) return tpl.error();
    // Values are escaped by RenderDomainXml; the two fragments are spliced in afterwards.
    auto xml = RenderDomainXml(*tpl, {{"name", launch.name},
                                      {"machine_id", launch.machine_id},
                                      {"pool", launch.pool},
                                      {"domain_type", DomainType()},
                                      {"memory_mib", std::to_string(o_.memory_mib)},
                                      {"vcpus", std::to_string(o_.vcpus)},
                                      {"disk", dir + "/disk.qcow2"},
                                      {"seed", dir + "/seed.iso"},
                                      {"console_log", dir + "/console.log"},
                                      {"boot", "\x01"},
                                      {"network", "\x02"}});
    if (!xml) return xml.error();
    for (auto [mark, fragment] : {std::pair<char, const std::string*>{'\x01', &boot},
                                  std::pair<char, const std::string*>{'\x02', &network}}) {
      for (size_t at; (at = xml->find(mark)) != std::string::npos;) xml->replace(at, 1, *fragment);
    }
    auto conn = Connection();
    if (!conn) return conn.error();
    Domain dom(virDomainDefineXML(*conn, xml->c_str()));
    if (dom == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot define " + launch.name + ": " + LibvirtLastError());
    }
    if (virDomainCreate(dom.get()) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot start " + launch.name + ": " + LibvirtLastError());
    }
    return launch.name;
  }

  // The NoCloud seed: user-data (the agent's config, see AgentUserData) and meta-data, on an
  // ISO 9660 volume labelled "cidata".
  Result<void> Seed(const MachineLaunch& launch, const std::string& dir) {
    auto toml = RenderAgentToml(
        launch,
        {.data_dir = "/var/lib/autovibe/agent", .backend = "libvirt", .extra_toml = o_.agent_toml});
    if (!toml) return toml.error();
    const std::string seed_dir = dir + "/seed";
    if (auto r = MakeDirs(seed_dir, 0700); !r) return r;
    auto user_data = AgentUserData(o_.templates_dir, *toml, o_.agent_download, o_.tools,
                                   launch.agent.nats_ca_pem);
    if (!user_data) return user_data.error();
    if (auto r = WriteFileAtomic(seed_dir + "/user-data", *user_data, 0600, false); !r) return r;
    const std::string meta =
        "instance-id: " + launch.machine_id + "\nlocal-hostname: " + launch.name + "\n";
    if (auto r = WriteFileAtomic(seed_dir + "/meta-data", meta, 0600, false); !r) return r;
    // It holds the machine's bus password: private before genisoimage writes it.
    if (auto made = MakePrivateFile(dir + "/seed.iso"); !made) return made.error();
    auto r = RunProgram({{"genisoimage", "-quiet", "-output", dir + "/seed.iso", "-volid", "cidata",
                          "-joliet", "-rock", seed_dir + "/user-data", seed_dir + "/meta-data"}});
    if (!r) return r.error();
    std::error_code ec;
    fs::remove_all(seed_dir, ec);  // the ISO holds it; the plain copy is not kept
    return {};
  }

  // The pool's domain type; "auto" is decided by a probe at the first machine, then kept.
  std::string DomainType() {
    if (o_.domain_type != "auto") return o_.domain_type;
    std::lock_guard lock(probe_mu_);
    if (chosen_type_.empty()) {
      chosen_type_ = ChooseDomainType(o_.uri, o_.kernel.empty() ? o_.probe_kernel : o_.kernel);
    }
    return chosen_type_;
  }

  Result<Domain> Lookup(const std::string& name) {
    auto conn = Connection();
    if (!conn) return conn.error();
    Domain dom(virDomainLookupByName(*conn, name.c_str()));
    if (dom == nullptr) {
      return MakeError(LibvirtLastErrorCode() == VIR_ERR_NO_DOMAIN ? ErrorCode::kNotFound
                                                                   : ErrorCode::kUnavailable,
                       "libvirt: no domain " + name + ": " + LibvirtLastError());
    }
    return dom;
  }

  // One connection, opened on first use and again when it dies (libvirtd restarted). It is
  // shared by the provisioning threads: libvirt connections are thread-safe.
  Result<virConnectPtr> Connection() {
    std::lock_guard lock(mu_);
    if (conn_ != nullptr && virConnectIsAlive(conn_) == 1) return conn_;
    if (conn_ != nullptr) virConnectClose(conn_);
    conn_ = virConnectOpen(o_.uri.c_str());
    if (conn_ == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       "libvirt: cannot connect to " + o_.uri + ": " + LibvirtLastError());
    }
    return conn_;
  }

  const LibvirtBackendOptions o_;
  std::mutex mu_;  // guards conn_
  virConnectPtr conn_ = nullptr;
  std::mutex disks_mu_;  // checkpoints and reverts, one at a time
  std::mutex probe_mu_;  // guards chosen_type_: one probe, the first spawns wait for it
  std::string chosen_type_;
};

}  // namespace

Result<std::string> RenderDomainXml(const std::string& domain_template,
                                    const std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> escaped;
  for (const auto& [k, v] : values) escaped[k] = XmlEscape(v);
  return FillTemplate(domain_template, escaped, "{{", "}}");
}

std::unique_ptr<Provisioner> MakeLibvirtProvisioner(LibvirtBackendOptions options) {
  return std::make_unique<LibvirtProvisioner>(std::move(options));
}

}  // namespace autovibe
