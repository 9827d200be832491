// Whether KVM guests really boot on a libvirt host. /dev/kvm opening says too little: a nested
// KVM can take a guest through its BIOS and then hang it for ever, and `-cpu host` can abort
// qemu at start. The probe boots a real kernel in a small transient guest and waits for it to
// end: with no root disk the kernel panics, `panic=-1` reboots it at once, and a domain whose
// on_reboot is "destroy" then shuts off. Only a guest that got that far counts.
//
// Blocking (up to the timeout); call from a provisioning thread, never the owner thread.
#pragma once

#include <string>

#include "common/core/duration.h"

namespace autovibe {

struct KvmProbe {
  bool boots = false;
  std::string detail;  // how long the guest took, or why KVM is not used
};

// Boots `kernel` (a path on the libvirt host) in a transient KVM guest through `uri` and
// waits up to `timeout` for it to panic and shut off.
KvmProbe ProbeKvm(const std::string& uri, const std::string& kernel, Duration timeout);

// The newest /boot/vmlinuz-* of this host; "" when there is none.
std::string HostKernel();

// "kvm" when a probe guest boots through `uri`, else "qemu" (software emulation); "test" for
// libvirt's test driver. `kernel` "" means HostKernel(). Logs the choice and why.
std::string ChooseDomainType(const std::string& uri, const std::string& kernel,
                             Duration timeout = std::chrono::seconds(20));

}  // namespace autovibe
