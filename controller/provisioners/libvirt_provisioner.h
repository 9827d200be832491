// The `libvirt` backend: a machine is a domain defined from a template
// (templates/libvirt/worker.xml) with a qcow2 overlay on the pool's base image as its disk and
// a cloud-init NoCloud seed (an ISO labelled "cidata") carrying the agent's settings.
//
// A machine checkpoint is an external disk-only snapshot: the disk the machine wrote so far is
// frozen (libvirt moves the machine onto a new overlay on top of it) and hard-linked into
// <images_dir>/checkpoints. A machine cloned from it gets an overlay on its own hard link of
// the frozen disk, so deleting the checkpoint, or the machine it came from, never pulls a disk
// from under a machine that still uses it. Reverting a machine to one of its checkpoints puts
// it on a fresh overlay on that disk (libvirt 9.0 cannot revert external snapshots itself).
//
// Disks and seeds are files in images_dir, made with qemu-img and genisoimage: the libvirt
// host is the controller's own (qemu:///system, or test:///default in the tests).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "controller/provisioners/cloud_init.h"
#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct LibvirtBackendOptions {
  std::string uri = "qemu:///system";
  std::string domain_template;  // the domain XML with {{placeholders}}
  std::string base_image;       // the qcow2 every fresh machine's disk is an overlay on
  std::string images_dir;       // machines/<name>/ (disk, seed, console log), checkpoints/
  // "auto" (KVM when a probe guest boots through `uri`, see kvm_probe.h; else qemu's
  // emulator), "kvm", "qemu", or "test" for test://.
  std::string domain_type = "auto";
  // The kernel the KVM probe boots (a path on the libvirt host): `kernel` when set, else this,
  // else the newest /boot/vmlinuz-*.
  std::string probe_kernel;
  int memory_mib = 1024;
  int vcpus = 1;
  // "user" (qemu's user-mode network: the guest reaches the host as 10.0.2.2) or the name of a
  // libvirt network.
  std::string network = "user";
  // Direct kernel boot, when kernel is set (a small image with the agent in its initrd).
  std::string kernel, initrd, cmdline;
  // The bus as the machines reach it, when not as the controller's agent_nats says (with the
  // user-mode network the host is 10.0.2.2: "nats://10.0.2.2:4222").
  std::string nats_url;
  std::string agent_toml;     // extra agent settings (AgentTomlOptions::extra_toml)
  std::string templates_dir;  // cloud-init/agent.yaml and systemd/autovibe-agent.service
  // Where cloud-init fetches the agent from, for images without it (cloud_init.h).
  AgentDownload agent_download;
  // The pool's tools: cloud-init installs those the image lacks (AgentUserData).
  std::vector<std::string> tools;
};

std::unique_ptr<Provisioner> MakeLibvirtProvisioner(LibvirtBackendOptions options);

// The domain XML of a machine: `domain_template` with each {{key}} replaced by the XML-escaped
// value. Errors: bad_config (a placeholder with no value, or an unclosed one).
Result<std::string> RenderDomainXml(const std::string& domain_template,
                                    const std::map<std::string, std::string>& values);

}  // namespace autovibe
