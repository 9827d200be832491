# Workers on a libvirt host: each a domain on a qcow2 overlay of the base image with a
# cloud-init NoCloud seed rendered from templates/cloud-init/agent.yaml (the template the
# controller's own provisioners render).
locals {
  names = [for i in range(var.worker_count) : "${var.name_prefix}-${i + 1}"]
}

module "user_data" {
  source              = "../agent-user-data"
  names               = local.names
  backend             = "libvirt"
  controller_nats_url = var.controller_nats_url
  nats_ca_pem         = var.nats_ca_pem
  join_tokens         = var.join_tokens
  labels              = var.labels
  task_slots          = var.task_slots
  agent_url           = var.agent_url
  agent_sha256        = var.agent_sha256
  tools               = var.tools
}

resource "libvirt_volume" "base" {
  name   = "${var.name_prefix}-base.qcow2"
  pool   = var.pool
  source = var.base_image
  format = "qcow2"
}

resource "libvirt_volume" "disk" {
  count          = var.worker_count
  name           = "${local.names[count.index]}.qcow2"
  pool           = var.pool
  base_volume_id = libvirt_volume.base.id
  size           = var.disk_bytes
  format         = "qcow2"
}

resource "libvirt_cloudinit_disk" "seed" {
  count     = var.worker_count
  name      = "${local.names[count.index]}-seed.iso"
  pool      = var.pool
  user_data = module.user_data.user_data[count.index]
  meta_data = "instance-id: ${local.names[count.index]}\nlocal-hostname: ${local.names[count.index]}\n"
}

resource "libvirt_domain" "worker" {
  count     = var.worker_count
  name      = local.names[count.index]
  memory    = var.memory_mib
  vcpu      = var.vcpus
  cloudinit = libvirt_cloudinit_disk.seed[count.index].id

  disk {
    volume_id = libvirt_volume.disk[count.index].id
  }

  network_interface {
    network_name = var.network_name
  }

  console {
    type        = "pty"
    target_type = "serial"
    target_port = "0"
  }

}
