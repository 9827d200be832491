variable "name_prefix" {
  description = "Worker names are <name_prefix>-<n>; agents register under them."
  type        = string
  default     = "autovibe-worker"
}

variable "worker_count" {
  description = "How many workers."
  type        = number
  default     = 2
}

variable "node" {
  description = "The Proxmox node the workers run on."
  type        = string
}

variable "template_vm_id" {
  description = "The VM template to clone (a Debian cloud image, or packer/worker.pkr.hcl's image with the agent already on it)."
  type        = number
}

variable "full_clone" {
  description = "Full clones instead of linked ones."
  type        = bool
  default     = false
}

variable "datastore_id" {
  description = "Where the workers' disks go."
  type        = string
  default     = "local-lvm"
}

variable "snippets_datastore_id" {
  description = "A datastore whose content types include snippets: the cloud-init user data goes there."
  type        = string
  default     = "local"
}

variable "cores" {
  type    = number
  default = 2
}

variable "memory_mib" {
  type    = number
  default = 4096
}

variable "disk_gib" {
  type    = number
  default = 32
}

variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "controller_nats_url" {
  description = "The controller's bus as the workers reach it, e.g. nats://10.0.0.2:4222."
  type        = string
}

variable "nats_ca_pem" {
  description = "The CA (PEM) that signed nats-server's certificate, which the agents verify the bus with (a tls:// controller_nats_url); empty: a bus without TLS."
  type        = string
  default     = ""
}

variable "join_tokens" {
  description = "One one-time join token per worker, in worker order (autovibe machines join-token create --ttl 1h, worker_count times): each agent exchanges its own for a bus user of its own."
  type        = list(string)
  sensitive   = true
}

variable "labels" {
  description = "Labels every worker's agent reports; tasks select machines by them."
  type        = map(string)
  default     = {}
}

variable "task_slots" {
  type    = number
  default = 1
}

variable "agent_url" {
  description = "Where cloud-init fetches the agent binary; empty when the template has it."
  type        = string
  default     = ""
}

variable "agent_sha256" {
  description = "The agent package's or binary's SHA-256 (required with agent_url)."
  type        = string
  default     = ""
}

variable "tools" {
  description = "Coding tools cloud-init installs where the image lacks them: git, node, claude-code, codex."
  type        = list(string)
  default     = []
}
