// Test support: a libvirtd of the test's own, started by hand (its own config, socket dir, pid
// file and log; virtlogd too when none answers), for real VMs through qemu:///system: KVM where
// a probe guest really boots (controller/provisioners/kvm_probe.h), qemu's emulator elsewhere. The
// qemu driver's state dirs are the system's, so the harness removes every domain whose name starts
// with the test's prefix when it stops.
#pragma once

#include <string>

#include "tests/support/process.h"

namespace autovibe::testing {

class Libvirtd {
 public:
  // Starts the daemons and waits until libvirtd answers (throws after 30 s). `prefix`: the
  // names of the test's domains.
  Libvirtd(const std::string& dir, std::string prefix);
  // Destroys and undefines the test's domains, then stops the daemons it started.
  ~Libvirtd();

  // The URI the provisioner connects to.
  std::string uri() const { return "qemu:///system?socket=" + dir_ + "/run/libvirt-sock"; }
  // "kvm" where a KVM guest really boots through this libvirtd (probed once per process),
  // else "qemu"; `why` (when given) says what the probe saw.
  std::string DomainType(std::string* why = nullptr) const;
  // Builds the small VM image (scripts/build-vm-image.sh) into `out`; throws on failure.
  static void BuildVmImage(const std::string& out);

 private:
  void RemoveDomains();

  std::string dir_, prefix_;
  ChildProcess virtlogd_, libvirtd_;
};

// Whether a libvirtd can be started here (the binaries exist and we are root).
bool LibvirtdAvailable();

}  // namespace autovibe::testing
