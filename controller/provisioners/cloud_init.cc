#include "controller/provisioners/cloud_init.h"

#include <openssl/evp.h>

#include <algorithm>

#include "common/core/files.h"

namespace autovibe {

Result<std::string> FillTemplate(const std::string& text,
                                 const std::map<std::string, std::string>& values,
                                 std::string_view open, std::string_view close) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t start = text.find(open, pos);
    if (start == std::string::npos) break;
    const size_t end = text.find(close, start + open.size());
    if (end == std::string::npos) {
      return MakeError(ErrorCode::kBadConfig, "the template has an unclosed " + std::string(open));
    }
    const std::string key = text.substr(start + open.size(), end - start - open.size());
    auto it = values.find(key);
    if (it == values.end()) {
      return MakeError(ErrorCode::kBadConfig, "the template names " + std::string(open) +
                                                  key.substr(0, 40) + std::string(close) +
                                                  ", which has no value");
    }
    out += text.substr(pos, start - pos);
    out += it->second;
    pos = end + close.size();
  }
  out += text.substr(pos);
  return out;
}

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<void> ValidateAgentDownload(const AgentDownload& d) {
  if (d.url.empty() && d.sha256.empty()) return {};
  if (!(d.url.starts_with("http://") || d.url.starts_with("https://")) ||
      d.url.find_first_of("'\" \t\r\n\\$`") != std::string::npos) {
    return MakeError(ErrorCode::kBadConfig,
                     "agent_url must be an http:// or https:// URL without quotes, "
                     "spaces or shell characters");
  }
  if (d.sha256.size() != 64 ||
      d.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return MakeError(ErrorCode::kBadConfig,
                     "agent_sha256 must be the binary's SHA-256: 64 hex digits");
  }
  return {};
}

namespace {

// What templates/tools/install-tools.sh installs. Only these names reach the user data's shell.
constexpr std::string_view kInstallableTools[] = {"git", "node", "claude-code", "codex"};

std::string InstallableTools(const std::vector<std::string>& tools) {
  std::string out;
  for (std::string_view known : kInstallableTools) {
    if (std::find(tools.begin(), tools.end(), known) == tools.end()) continue;
    if (!out.empty()) out += ' ';
    out += known;
  }
  return out;
}

}  // namespace

Result<std::string> AgentUserData(const std::string& templates_dir, const std::string& agent_toml,
                                  const AgentDownload& download,
                                  const std::vector<std::string>& tools,
                                  const std::string& nats_ca_pem) {
  if (auto r = ValidateAgentDownload(download); !r) return r.error();
  auto tpl = ReadFile(templates_dir + "/cloud-init/agent.yaml");
  if (!tpl) return tpl.error();
  std::map<std::string, std::string> values = {{"agent_config_b64", Base64(agent_toml)},
                                               {"agent_url", download.url},
                                               {"agent_sha256", download.sha256},
                                               {"agent_tools", InstallableTools(tools)},
                                               {"nats_ca_b64", Base64(nats_ca_pem)}};
  for (auto [key, file] : {std::pair{"agent_unit_b64", "systemd/autovibe-agent.service"},
                           {"tools_installer_b64", "tools/install-tools.sh"},
                           {"tools_claude_code_package_b64", "tools/claude-code/package.json"},
                           {"tools_claude_code_lock_b64", "tools/claude-code/package-lock.json"},
                           {"tools_codex_package_b64", "tools/codex/package.json"},
                           {"tools_codex_lock_b64", "tools/codex/package-lock.json"}}) {
    auto text = ReadFile(templates_dir + "/" + file);
    if (!text) return text.error();
    values[key] = Base64(*text);
  }
  return FillTemplate(*tpl, values);
}

}  // namespace autovibe
