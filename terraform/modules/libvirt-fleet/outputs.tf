output "workers" {
  description = "The workers' domain names: the names their agents register under."
  value       = [for d in libvirt_domain.worker : d.name]
}
