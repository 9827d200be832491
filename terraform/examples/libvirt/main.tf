# Three workers on this host's libvirt, from a Debian cloud image that fetches the agent on
# first boot. terraform init && terraform apply
terraform {
  required_providers {
    libvirt = {
      source  = "dmacvicar/libvirt"
      version = ">= 0.7.6, < 0.9"
    }
  }
}

provider "libvirt" {
  uri = "qemu:///system"
}

module "workers" {
  source              = "../../modules/libvirt-fleet"
  worker_count        = 3
  base_image          = "/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2"
  controller_nats_url = "nats://192.168.122.1:4222"
  agent_url           = "http://192.168.122.1:8000/autovibe-agent"
  agent_sha256        = "0000000000000000000000000000000000000000000000000000000000000000"
  labels              = { pool = "kvm" }
}

output "workers" {
  value = module.workers.workers
}
