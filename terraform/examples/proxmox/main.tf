# Two workers on a Proxmox VE cluster, cloned from template 9000 (packer/worker.pkr.hcl builds
# one with the agent on it). terraform init && terraform apply
terraform {
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = ">= 0.60"
    }
  }
}

provider "proxmox" {
  endpoint  = "https://pve.example:8006/"
  api_token = var.proxmox_api_token # user@realm!tokenid=secret
  insecure  = false
  ssh {
    agent    = true
    username = "root" # uploading snippets goes over SSH
  }
}

variable "proxmox_api_token" {
  type      = string
  sensitive = true
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
  source              = "../../modules/proxmox-fleet"
  worker_count        = 2
  node                = "pve1"
  template_vm_id      = 9000
  join_tokens         = var.join_tokens
  controller_nats_url = "tls://10.0.0.2:4222"
  nats_ca_pem         = file("${path.module}/nats-ca.pem")
  labels              = { pool = "pve", gpu = "none" }
}

output "workers" {
  value = module.workers.workers
}
