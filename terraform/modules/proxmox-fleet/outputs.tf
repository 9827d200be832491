output "workers" {
  description = "Worker names and VM ids: the names their agents register under."
  value       = { for vm in proxmox_virtual_environment_vm.worker : vm.name => vm.vm_id }
}
