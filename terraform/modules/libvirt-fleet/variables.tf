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

variable "pool" {
  description = "The libvirt storage pool for the base image, the workers' disks and seeds."
  type        = string
  default     = "default"
}

variable "base_image" {
  description = "Path or URL of the qcow2 base image: a Debian cloud image, or packer/worker.pkr.hcl's image with the agent already on it."
  type        = string
}

variable "disk_bytes" {
  description = "Size of each worker's disk (an overlay on the base image)."
  type        = number
  default     = 34359738368
}

variable "vcpus" {
  type    = number
  default = 2
}

variable "memory_mib" {
  type    = number
  default = 4096
}

variable "network_name" {
  description = "The libvirt network the workers join."
  type        = string
  default     = "default"
}

variable "controller_nats_url" {
  description = "The controller's bus as the workers reach it, e.g. nats://192.168.122.1:4222."
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
  description = "Where cloud-init fetches the agent: its .deb (scripts/package.sh) or its bare binary; empty when the image has it."
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
