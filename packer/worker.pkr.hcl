# A worker base image with the agent preinstalled from its Debian package (./scripts/package.sh:
# /usr/bin/autovibe-agent and its systemd unit, not enabled: cloud-init's user data from
# templates/cloud-init/agent.yaml writes the machine's config and starts it), and the coding
# tools: git, Node, and Claude Code and Codex from npm pinned by templates/tools/*/package-lock.json
# (templates/tools/install-tools.sh). Two ways to build it:
#   packer build -only=qemu.worker worker.pkr.hcl           # a qcow2 for libvirt (build host
#                                                             # needs qemu, ideally /dev/kvm)
#   packer build -only=proxmox-clone.worker -var proxmox_url=... worker.pkr.hcl
#                                                           # a Proxmox template from a
#                                                             # cloud-init-ready template
# The image holds no machine's settings: cloud-init's user data brings the agent's config and,
# for a bus over TLS, the CA it verifies nats-server with (/etc/autovibe/nats-ca.pem, named by
# nats_ca; the package's /etc/autovibe/agent.toml documents the keys).
# Build the package first (./scripts/package.sh); packer copies it in, and checks it against
# -var agent_package_sha256=$(sha256sum ../build/packages/autovibe-agent_*.deb | cut -d' ' -f1)
# when given.

variable "agent_package" {
  description = "The agent's .deb, from ./scripts/package.sh."
  type        = string
  default     = "../build/packages/autovibe-agent_0.1.0_amd64.deb"
}

variable "agent_package_sha256" {
  description = "The package's SHA-256, checked on the image before it is installed; empty: not checked."
  type        = string
  default     = ""
}

variable "tools" {
  description = "Coding tools baked into the image (templates/tools/install-tools.sh)."
  type        = list(string)
  default     = ["git", "node", "claude-code", "codex"]
}

variable "debian_image_url" {
  type    = string
  default = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
}

# Required: "sha512:<hex>" from the image's SHA512SUMS (or "file:<url of SHA512SUMS>").
variable "debian_image_checksum" {
  type = string
}

variable "disk_size" {
  type    = string
  default = "8G"
}

variable "proxmox_url" {
  type    = string
  default = "https://pve.example:8006/api2/json"
}

variable "proxmox_username" {
  type    = string
  default = "packer@pve!build"
}

variable "proxmox_password" {
  description = "The user's password, or with an API token id as proxmox_username, its secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "proxmox_node" {
  type    = string
  default = "pve1"
}

variable "proxmox_clone_vm" {
  type    = string
  default = "debian-12-cloudinit"
}

variable "ssh_password" {
  type      = string
  default   = "autovibe-build"
  sensitive = true
}

# A local qcow2 from Debian's cloud image; the build logs in with a throwaway password that the
# NoCloud seed served from http/ sets (removed again at the end of the build).
source "qemu" "worker" {
  iso_url          = var.debian_image_url
  iso_checksum     = var.debian_image_checksum
  disk_image       = true
  format           = "qcow2"
  disk_size        = var.disk_size
  disk_compression = true
  accelerator      = "kvm"
  headless         = true
  memory           = 2048
  cpus             = 2
  http_directory   = "http"
  qemuargs         = [["-smbios", "type=1,serial=ds=nocloud-net;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/"]]
  ssh_username     = "debian"
  ssh_password     = var.ssh_password
  ssh_timeout      = "10m"
  shutdown_command = "sudo shutdown -P now"
  output_directory = "output-worker"
  vm_name          = "autovibe-worker.qcow2"
}

# A Proxmox template cloned from an existing cloud-init-ready template.
source "proxmox-clone" "worker" {
  proxmox_url              = var.proxmox_url
  username                 = var.proxmox_username
  password                 = var.proxmox_password
  node                     = var.proxmox_node
  clone_vm                 = var.proxmox_clone_vm
  full_clone               = true
  template_name            = "autovibe-worker"
  template_description     = "autovibe worker: the agent preinstalled; cloud-init starts it"
  cloud_init               = true
  ssh_username             = "debian"
  ssh_password             = var.ssh_password
  ssh_timeout              = "10m"
  insecure_skip_tls_verify = false
}

build {
  sources = ["source.qemu.worker", "source.proxmox-clone.worker"]

  provisioner "shell" {
    inline = ["cloud-init status --wait || true", "mkdir -p /tmp/autovibe"]
  }

  provisioner "file" {
    source      = var.agent_package
    destination = "/tmp/autovibe/autovibe-agent.deb"
  }

  provisioner "file" {
    source      = "../templates/tools"
    destination = "/tmp/autovibe"
  }

  provisioner "shell" {
    inline = [
      # The package as copied is the package as built.
      "[ -z '${var.agent_package_sha256}' ] || echo '${var.agent_package_sha256}  /tmp/autovibe/autovibe-agent.deb' | sha256sum -c -",
      "sudo apt-get update -q",
      # apt brings its dependencies (bubblewrap, git); it stays disabled until cloud-init starts it.
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/autovibe/autovibe-agent.deb",
      "sudo install -d /usr/local/share/autovibe",
      "sudo cp -r /tmp/autovibe/tools /usr/local/share/autovibe/",
      "sudo /usr/local/share/autovibe/tools/install-tools.sh ${join(" ", var.tools)}",
      "rm -rf /tmp/autovibe",
      "sudo passwd -d debian && sudo passwd -l debian",
      "sudo cloud-init clean --logs --machine-id",
    ]
  }
}
