# Workers on Proxmox VE: each a clone of a template, its agent installed and started by
# cloud-init from templates/cloud-init/agent.yaml (the template the controller's own
# provisioners render), uploaded as a snippet.
locals {
  names = [for i in range(var.worker_count) : "${var.name_prefix}-${i + 1}"]
}

module "user_data" {
  source              = "../agent-user-data"
  names               = local.names
  backend             = "proxmox"
  controller_nats_url = var.controller_nats_url
  nats_ca_pem         = var.nats_ca_pem
  join_tokens         = var.join_tokens
  labels              = var.labels
  task_slots          = var.task_slots
  agent_url           = var.agent_url
  agent_sha256        = var.agent_sha256
  tools               = var.tools
}

resource "proxmox_virtual_environment_file" "user_data" {
  count        = var.worker_count
  content_type = "snippets"
  datastore_id = var.snippets_datastore_id
  node_name    = var.node

  source_raw {
    file_name = "${local.names[count.index]}.yaml"
    data      = module.user_data.user_data[count.index]
  }
}

resource "proxmox_virtual_environment_vm" "worker" {
  count     = var.worker_count
  name      = local.names[count.index]
  node_name = var.node
  tags      = ["autovibe"]

  clone {
    vm_id = var.template_vm_id
    full  = var.full_clone
  }

  cpu {
    cores = var.cores
  }

  memory {
    dedicated = var.memory_mib
  }

  disk {
    datastore_id = var.datastore_id
    interface    = "scsi0"
    size         = var.disk_gib
  }

  network_device {
    bridge = var.bridge
  }

  initialization {
    datastore_id      = var.datastore_id
    user_data_file_id = proxmox_virtual_environment_file.user_data[count.index].id
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

}
