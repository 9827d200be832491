// The cloud-init user data of a worker VM, rendered from templates/cloud-init/agent.yaml: the
// same template Terraform's modules render (templatefile), so every path installs a worker the
// same way.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

// `text` with each ${name} (or `open` name `close`) replaced by its value, as it is. Errors:
// bad_config (a placeholder with no value, or an unclosed one).
Result<std::string> FillTemplate(const std::string& text,
                                 const std::map<std::string, std::string>& values,
                                 std::string_view open = "${", std::string_view close = "}");

// Where cloud-init fetches the agent from, for images without it: its Debian package (a URL
// ending in .deb, from ./scripts/package.sh) or its bare binary; empty: the image has it.
struct AgentDownload {
  std::string url;
  std::string sha256;  // 64 hex digits, checked before the package or binary is installed
};

// templates_dir/cloud-init/agent.yaml: the agent's config and
// templates_dir/systemd/autovibe-agent.service go in base64, the download, if any, and the
// coding tools to install where the image lacks them: those of `tools` (a pool's tools, as tasks
// name them) that templates_dir/tools/install-tools.sh installs (git, node, claude-code, codex;
// others, such as shell, need nothing or cannot be installed), with that script and the tools'
// lockfiles, and the CA the agent verifies nats-server with (/etc/autovibe/nats-ca.pem; empty
// when `nats_ca_pem` is). Errors: not_found or unavailable (a template cannot be read),
// bad_config.
Result<std::string> AgentUserData(const std::string& templates_dir, const std::string& agent_toml,
                                  const AgentDownload& download = {},
                                  const std::vector<std::string>& tools = {},
                                  const std::string& nats_ca_pem = "");

// Checks a download's url (http or https, no quotes or spaces) and sha256. Errors: bad_config.
Result<void> ValidateAgentDownload(const AgentDownload& download);

std::string Base64(const std::string& bytes);

}  // namespace autovibe
