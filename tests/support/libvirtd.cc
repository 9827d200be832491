#include "tests/support/libvirtd.h"

#include <libvirt/libvirt.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "controller/provisioners/kvm_probe.h"

namespace autovibe::testing {

bool LibvirtdAvailable() {
  return geteuid() == 0 && access("/usr/sbin/libvirtd", X_OK) == 0 &&
         access("/usr/sbin/virtlogd", X_OK) == 0 &&
         access("/usr/bin/qemu-system-x86_64", X_OK) == 0;
}

Libvirtd::Libvirtd(const std::string& dir, std::string prefix)
    : dir_(dir), prefix_(std::move(prefix)) {
  std::filesystem::create_directories(dir_ + "/run");
  // The qemu driver sends the machines' console output through virtlogd.
  if (!SocketAnswers("/run/libvirt/virtlogd-sock")) {
    virtlogd_ = ChildProcess({"/usr/sbin/virtlogd"}, dir_ + "/virtlogd.log");
    if (!WaitUntil([] { return SocketAnswers("/run/libvirt/virtlogd-sock"); },
                   std::chrono::seconds(30), std::chrono::milliseconds(50))) {
      throw std::runtime_error("virtlogd did not start; log: " + virtlogd_.Log());
    }
  }
  std::ofstream(dir_ + "/libvirtd.conf") << "unix_sock_dir = \"" << dir_ << "/run\"\n"
                                         << "unix_sock_rw_perms = \"0700\"\n"
                                            "auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n"
                                            "log_outputs = \"3:file:"
                                         << dir_ << "/libvirtd-errors.log\"\n";
  libvirtd_ = ChildProcess({"/usr/sbin/libvirtd", "--config", dir_ + "/libvirtd.conf", "--pid-file",
                            dir_ + "/libvirtd.pid"},
                           dir_ + "/libvirtd.log");
  if (!WaitUntil([this] { return SocketAnswers(dir_ + "/run/libvirt-sock"); },
                 std::chrono::seconds(30), std::chrono::milliseconds(50))) {
    throw std::runtime_error("libvirtd did not start; log: " + libvirtd_.Log());
  }
}

Libvirtd::~Libvirtd() {
  RemoveDomains();
  for (ChildProcess* p : {&libvirtd_, &virtlogd_}) {
    if (p->pid() <= 0) continue;
    p->Signal(SIGTERM);
    if (p->Wait(std::chrono::seconds(20)) < 0) p->Kill();
  }
}

void Libvirtd::RemoveDomains() {
  virConnectPtr conn = virConnectOpen(uri().c_str());
  if (conn == nullptr) return;
  virDomainPtr* domains = nullptr;
  const int n = virConnectListAllDomains(conn, &domains, 0);
  for (int i = 0; i < n; ++i) {
    const char* name = virDomainGetName(domains[i]);
    if (name != nullptr && std::string_view(name).starts_with(prefix_)) {
      virDomainDestroy(domains[i]);
      virDomainUndefineFlags(domains[i], VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
    }
    virDomainFree(domains[i]);
  }
  free(domains);
  virConnectClose(conn);
}

std::string Libvirtd::DomainType(std::string* why) const {
  // One probe per test process: a hung nested KVM costs its whole timeout each time.
  static const KvmProbe probe = access("/dev/kvm", R_OK | W_OK) == 0
                                    ? ProbeKvm(uri(), HostKernel(), std::chrono::seconds(20))
                                    : KvmProbe{false, "there is no usable /dev/kvm"};
  if (why != nullptr) *why = probe.detail;
  return probe.boots ? "kvm" : "qemu";
}

void Libvirtd::BuildVmImage(const std::string& out) {
  const std::string cmd = "BUILD_DIR=" + std::string(AV_BIN_DIR) + "/.. " +
                          std::string(AV_SOURCE_DIR) + "/scripts/build-vm-image.sh " + out +
                          " 1G >" + out + ".log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("building the VM image failed; see " + out + ".log");
  }
}

}  // namespace autovibe::testing
