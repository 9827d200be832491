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

# The bus speaks TLS: nats-ca.pem beside this file is the CA that signed nats-server's
# certificate (README.md, "NATS over TLS"); the agents verify the bus with it.
# One one-time join token per worker, e.g.
#   export TF_VAR_join_tokens="[$(for i in 1 2 3; do printf '"%s",' "$(autovibe machines join-token create --ttl 2h)"; done)]"
variable "join_tokens" {
  type      = list(string)
  sensitive = true
}

module "workers" {
  source              = "../../modules/libvirt-fleet"
  worker_count        = 3
  base_image          = "/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2"
  join_tokens         = var.join_tokens
  controller_nats_url = "tls://192.168.122.1:4222"
  nats_ca_pem         = file("${path.module}/nats-ca.pem")
  agent_url           = "http://192.168.122.1:8000/autovibe-agent"
  agent_sha256        = "0000000000000000000000000000000000000000000000000000000000000000"
  labels              = { pool = "kvm" }
}

output "workers" {
  value = module.workers.workers
}
