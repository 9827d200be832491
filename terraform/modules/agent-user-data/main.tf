# The cloud-init user data of each worker: templates/cloud-init/agent.yaml (the template the
# controller's own provisioners render) with the agent's config and systemd unit.
terraform {
  required_version = ">= 1.5"
}

variable "names" {
  description = "The workers' names; their agents register under them."
  type        = list(string)
}

variable "backend" {
  description = "What the agents report as their machines' backend."
  type        = string
}

variable "controller_nats_url" {
  type = string
}

variable "nats_ca_pem" {
  description = "The CA (PEM) that signed nats-server's certificate: cloud-init writes it to /etc/autovibe/nats-ca.pem and the agent verifies the bus with it (nats_ca). Empty: a bus without TLS."
  type        = string
  default     = ""

  validation {
    condition     = var.nats_ca_pem == "" || can(regex("-----BEGIN CERTIFICATE-----", var.nats_ca_pem))
    error_message = "nats_ca_pem is a PEM certificate (-----BEGIN CERTIFICATE-----), e.g. file(\"ca.pem\")."
  }
}

variable "join_tokens" {
  description = "One one-time join token per worker, in the order of names (autovibe machines join-token create): each agent exchanges its own for a bus user of its own."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = alltrue([for t in var.join_tokens : can(regex("^j-[0-9a-f]{12}\\.[0-9a-f]+$", t))])
    error_message = "Each join token looks like j-0123456789ab.<hex>, as autovibe machines join-token create prints it."
  }
}

variable "labels" {
  type    = map(string)
  default = {}
}

variable "task_slots" {
  type    = number
  default = 1
}

variable "agent_url" {
  type    = string
  default = ""
}

variable "agent_sha256" {
  type    = string
  default = ""

  validation {
    condition     = var.agent_sha256 == "" || can(regex("^[0-9a-f]{64}$", var.agent_sha256))
    error_message = "agent_sha256 is 64 lowercase hex digits."
  }
}

variable "tools" {
  description = "Coding tools cloud-init installs where the image lacks them: git, node, claude-code, codex (the npm tools pinned by templates/tools/*/package-lock.json)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.tools : contains(["git", "node", "claude-code", "codex"], t)])
    error_message = "Each tool is one of git, node, claude-code, codex."
  }
}

locals {
  templates = "${path.module}/../../../templates"
  unit      = file("${local.templates}/systemd/autovibe-agent.service")
  agent_config = [for i, name in var.names : join("\n", compact([
    "nats = ${jsonencode(var.controller_nats_url)}",
    var.nats_ca_pem == "" ? "" : "nats_ca = \"/etc/autovibe/nats-ca.pem\"",
    "join_token = ${jsonencode(try(var.join_tokens[i], ""))}",
    "name = ${jsonencode(name)}",
    "backend = ${jsonencode(var.backend)}",
    "data_dir = \"/var/lib/autovibe/agent\"",
    "task_slots = ${var.task_slots}",
    "labels = { ${join(", ", [for k, v in var.labels : "${jsonencode(k)} = ${jsonencode(v)}"])} }",
  ]))]
}

output "user_data" {
  description = "One cloud-config document per name, in order."
  sensitive   = true
  precondition {
    condition     = length(var.join_tokens) == length(var.names)
    error_message = "Give one join token per worker: no two workers share one."
  }
  value = [for config in local.agent_config : templatefile(
    "${local.templates}/cloud-init/agent.yaml", {
      agent_config_b64              = base64encode(config)
      nats_ca_b64                   = base64encode(var.nats_ca_pem)
      agent_unit_b64                = base64encode(local.unit)
      agent_url                     = var.agent_url
      agent_sha256                  = var.agent_sha256
      agent_tools                   = join(" ", var.tools)
      tools_installer_b64           = filebase64("${local.templates}/tools/install-tools.sh")
      tools_claude_code_package_b64 = filebase64("${local.templates}/tools/claude-code/package.json")
      tools_claude_code_lock_b64    = filebase64("${local.templates}/tools/claude-code/package-lock.json")
      tools_codex_package_b64       = filebase64("${local.templates}/tools/codex/package.json")
      tools_codex_lock_b64          = filebase64("${local.templates}/tools/codex/package-lock.json")
  })]
}
