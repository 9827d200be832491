#include "controller/provisioners/kvm_probe.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "controller/provisioners/libvirt_util.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;

std::string ProbeXml(const std::string& name, const std::string& kernel) {
  return "<domain type='kvm'><name>" + name +
         "</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>" +
         XmlEscape(kernel) +
         "</kernel><cmdline>console=ttyS0 panic=-1</cmdline></os>"
         "<on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
         "<on_crash>destroy</on_crash><devices><memballoon model='none'/></devices></domain>";
}

}  // namespace

KvmProbe ProbeKvm(const std::string& uri, const std::string& kernel, Duration timeout) {
  SilenceLibvirtErrors();
  if (kernel.empty()) return {false, "no kernel to boot a probe guest with"};
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) return {false, "cannot connect to " + uri + ": " + LibvirtLastError()};
  static std::atomic<int> probes{0};
  const std::string name =
      "autovibe-kvm-probe-" + std::to_string(getpid()) + "-" + std::to_string(++probes);
  KvmProbe out;
  const auto start = std::chrono::steady_clock::now();
  // Defined, not transient: a shut-off domain keeps its state and the reason it stopped.
  virDomainPtr dom = virDomainDefineXML(conn, ProbeXml(name, kernel).c_str());
  if (dom == nullptr) {
    out.detail = "cannot define a KVM guest: " + LibvirtLastError();
  } else if (virDomainCreate(dom) != 0) {
    out.detail = "a KVM guest does not start: " + LibvirtLastError();
  } else {
    for (;;) {
      int state = 0, reason = 0;
      if (virDomainGetState(dom, &state, &reason, 0) != 0) {
        out.detail = "cannot read the probe guest's state: " + LibvirtLastError();
        break;
      }
      const auto took =
          std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
      if (state == VIR_DOMAIN_SHUTOFF) {
        // The kernel's panic reboot, turned into a shutdown; a crash of qemu says otherwise.
        out.boots = reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN;
        out.detail = out.boots ? "a KVM guest booted its kernel in " + FormatDuration(took)
                               : "the KVM probe guest stopped without booting (reason " +
                                     std::to_string(reason) + ")";
        break;
      }
      if (took >= timeout) {
        out.detail = "a KVM guest did not boot its kernel within " + FormatDuration(timeout) +
                     " (a nested KVM whose guests hang?)";
        virDomainDestroy(dom);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (dom != nullptr) {
    virDomainUndefine(dom);
    virDomainFree(dom);
  }
  virConnectClose(conn);
  return out;
}

std::string HostKernel() {
  std::string newest;
  fs::file_time_type newest_time;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/boot", ec)) {
    if (!e.path().filename().string().starts_with("vmlinuz-")) continue;
    const auto t = e.last_write_time(ec);
    if (ec) continue;
    if (newest.empty() || t > newest_time) {
      newest = e.path().string();
      newest_time = t;
    }
  }
  return newest;
}

std::string ChooseDomainType(const std::string& uri, const std::string& kernel, Duration timeout) {
  if (uri.starts_with("test:")) return "test";
  // A local hypervisor without /dev/kvm needs no probe to say no.
  if (uri.starts_with("qemu:///") && access("/dev/kvm", R_OK | W_OK) != 0) {
    spdlog::info("libvirt {}: no usable /dev/kvm here; guests are emulated (qemu)", uri);
    return "qemu";
  }
  const KvmProbe probe = ProbeKvm(uri, kernel.empty() ? HostKernel() : kernel, timeout);
  if (probe.boots) {
    spdlog::info("libvirt {}: {}; guests run under KVM", uri, probe.detail);
    return "kvm";
  }
  spdlog::warn("libvirt {}: {}; guests are emulated (qemu), which is slower", uri, probe.detail);
  return "qemu";
}

}  // namespace autovibe
