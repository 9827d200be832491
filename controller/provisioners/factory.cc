#include "controller/provisioners/factory.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "common/core/config_file.h"
#include "common/core/duration.h"
#include "common/core/files.h"
#include "controller/provisioners/docker_provisioner.h"
#include "controller/provisioners/libvirt_provisioner.h"
#include "controller/provisioners/local_provisioner.h"
#include "controller/provisioners/proxmox_provisioner.h"
#include "controller/provisioners/ssh_provisioner.h"

namespace autovibe {
namespace {

Error Bad(const PoolConfig& pool, const std::string& message) {
  return MakeError(ErrorCode::kBadConfig,
                   "pool " + pool.name + " [pool." + pool.backend + "]: " + message);
}

// Copies the string values of `table` into `out` by key; any other key is an error, except
// those in `others` (read by the caller).
Result<void> ReadStrings(const PoolConfig& pool,
                         std::initializer_list<std::pair<std::string_view, std::string*>> keys,
                         std::initializer_list<std::string_view> others = {}) {
  for (auto&& [k, v] : pool.backend_settings) {
    bool known = std::find(others.begin(), others.end(), k.str()) != others.end();
    for (auto& [name, out] : keys) {
      if (k.str() != name) continue;
      known = true;
      auto s = v.value<std::string>();
      if (!s) return Bad(pool, std::string(name) + " must be a string");
      *out = *s;
    }
    if (!known) return Bad(pool, "unknown key \"" + std::string(k.str()) + "\"");
  }
  return {};
}

}  // namespace

std::string PoolAgentToml(const PoolConfig& pool) {
  // Before the pool's own settings: a key after a [table] header would belong to the table.
  return "task_slots = " + std::to_string(pool.task_slots) + "\ntask_user = \"" + pool.task_user +
         "\"\nnetwork = \"" + pool.network + "\"\n" + pool.agent_toml;
}

std::string DefaultTemplatesDir() {
  // A build tree (build/bin/..) next to the sources, else an installed tree.
  const std::string beside = SelfDir() + "/../../templates";
  std::error_code ec;
  if (std::filesystem::is_directory(beside, ec)) return beside;
  return "/usr/share/autovibe/templates";
}

std::string SelfDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

Result<std::unique_ptr<Provisioner>> MakeProvisioner(const PoolConfig& pool,
                                                     const ProvisionerContext& context) {
  if (pool.backend == "local") {
    LocalBackendOptions o;
    o.agent_binary = context.agent_binary;
    o.machines_dir = context.data_dir + "/machines";
    if (auto r = ReadStrings(pool, {{"agent", &o.agent_binary}, {"machines_dir", &o.machines_dir}});
        !r) {
      return r.error();
    }
    if (access(o.agent_binary.c_str(), X_OK) != 0) {
      return Bad(pool, "agent " + o.agent_binary + " is not an executable file");
    }
    o.agent_toml = PoolAgentToml(pool);
    return MakeLocalProvisioner(std::move(o));
  }
  if (pool.backend == "docker") {
    DockerBackendOptions o;
    o.machines_dir = context.data_dir + "/machines";
    if (auto r = ReadStrings(pool, {{"socket", &o.socket},
                                    {"image", &o.image},
                                    {"network", &o.network},
                                    {"agent_path", &o.agent_path},
                                    {"machines_dir", &o.machines_dir},
                                    {"snapshot_repo", &o.snapshot_repo}});
        !r) {
      return r.error();
    }
    o.agent_toml = PoolAgentToml(pool);
    o.boxed_tasks = pool.task_user != "root";
    return MakeDockerProvisioner(std::move(o));
  }
  if (pool.backend == "ssh") {
    SshBackendOptions o;
    o.agent_binary = context.agent_binary;
    o.credentials.known_hosts = context.data_dir + "/ssh_known_hosts";
    o.unit_template = context.templates_dir + "/systemd/autovibe-agent.service";
    if (auto r = ReadStrings(pool,
                             {{"private_key", &o.credentials.private_key},
                              {"public_key", &o.credentials.public_key},
                              {"known_hosts", &o.credentials.known_hosts},
                              {"agent", &o.agent_binary},
                              {"unit_template", &o.unit_template},
                              {"install_dir", &o.install_dir},
                              {"data_dir", &o.data_dir},
                              {"unit_path", &o.unit_path}},
                             {"hosts"});
        !r) {
      return r.error();
    }
    const toml::array* hosts = pool.backend_settings.get_as<toml::array>("hosts");
    if (hosts == nullptr || hosts->empty()) {
      return Bad(pool, "hosts must list the hosts to adopt, as user@host[:port]");
    }
    for (const toml::node& h : *hosts) {
      auto s = h.value<std::string>();
      if (!s) return Bad(pool, "hosts must be strings");
      if (auto t = ParseSshTarget(*s); !t) return Bad(pool, t.error().message);
      o.hosts.push_back(*s);
    }
    if (o.credentials.private_key.empty()) return Bad(pool, "private_key is required");
    if (access(o.unit_template.c_str(), R_OK) != 0) {
      return Bad(pool, "unit_template " + o.unit_template + " cannot be read");
    }
    if (pool.max > o.hosts.size()) {
      return Bad(pool, "max (" + std::to_string(pool.max) + ") exceeds the " +
                           std::to_string(o.hosts.size()) + " hosts listed");
    }
    o.agent_toml = PoolAgentToml(pool);
    return MakeSshProvisioner(std::move(o));
  }
  if (pool.backend == "proxmox") {
    ProxmoxBackendOptions o;
    std::string token_file, task_timeout;
    if (auto r = ReadStrings(pool,
                             {{"url", &o.url},
                              {"token", &o.token},
                              {"token_file", &token_file},
                              {"node", &o.node},
                              {"storage", &o.storage},
                              {"snippets_storage", &o.snippets_storage},
                              {"snippets_dir", &o.snippets_dir},
                              {"ca_file", &o.ca_file},
                              {"task_timeout", &task_timeout},
                              {"agent_url", &o.agent_download.url},
                              {"agent_sha256", &o.agent_download.sha256}},
                             {"template", "full_clone", "verify_tls"});
        !r) {
      return r.error();
    }
    const toml::node* tpl = pool.backend_settings.get("template");
    if (tpl != nullptr && TomlWholeNumber(*tpl)) {
      o.template_vmid = std::to_string(*TomlWholeNumber(*tpl));
    } else if (tpl != nullptr && tpl->value<std::string>()) {
      o.template_vmid = *tpl->value<std::string>();
    }
    if (o.template_vmid.empty()) return Bad(pool, "template (the VM id to clone) is required");
    for (auto [key, out] :
         {std::pair{"full_clone", &o.full_clone}, {"verify_tls", &o.verify_tls}}) {
      if (const toml::node* n = pool.backend_settings.get(key)) {
        auto b = n->value<bool>();
        if (!b) return Bad(pool, std::string(key) + " must be true or false");
        *out = *b;
      }
    }
    if (!task_timeout.empty()) {
      auto d = ParseDuration(task_timeout);
      if (!d) return Bad(pool, "task_timeout: " + d.error().message);
      o.task_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    }
    if (!token_file.empty()) {
      auto t = ReadFile(token_file);
      if (!t) return Bad(pool, "token_file: " + t.error().message);
      o.token = t->substr(0, t->find_first_of("\r\n"));
    }
    if (o.url.empty() || o.token.empty())
      return Bad(pool, "url and token (or token_file) are required");
    if (auto r = ValidateAgentDownload(o.agent_download); !r) return Bad(pool, r.error().message);
    o.agent_toml = PoolAgentToml(pool);
    o.templates_dir = context.templates_dir;
    o.tools = pool.tools;
    return MakeProxmoxProvisioner(std::move(o));
  }
  if (pool.backend == "libvirt") {
    LibvirtBackendOptions o;
    o.domain_template = context.templates_dir + "/libvirt/worker.xml";
    o.images_dir = context.data_dir + "/libvirt";
    if (auto r = ReadStrings(pool,
                             {{"uri", &o.uri},
                              {"template", &o.domain_template},
                              {"base_image", &o.base_image},
                              {"images_dir", &o.images_dir},
                              {"domain_type", &o.domain_type},
                              {"probe_kernel", &o.probe_kernel},
                              {"network", &o.network},
                              {"kernel", &o.kernel},
                              {"initrd", &o.initrd},
                              {"cmdline", &o.cmdline},
                              {"nats_url", &o.nats_url},
                              {"agent_url", &o.agent_download.url},
                              {"agent_sha256", &o.agent_download.sha256}},
                             {"memory_mib", "vcpus"});
        !r) {
      return r.error();
    }
    for (auto [key, out, most] :
         {std::tuple{"memory_mib", &o.memory_mib, 1 << 20}, std::tuple{"vcpus", &o.vcpus, 256}}) {
      if (const toml::node* n = pool.backend_settings.get(key)) {
        auto v = TomlWholeNumber(*n);
        if (!v || *v < 1 || *v > most) {
          return Bad(
              pool, std::string(key) + " must be a whole number from 1 to " + std::to_string(most));
        }
        *out = static_cast<int>(*v);
      }
    }
    if (o.domain_type != "auto" && o.domain_type != "kvm" && o.domain_type != "qemu" &&
        o.domain_type != "test") {
      return Bad(pool, "domain_type must be auto, kvm, qemu or test");
    }
    if (o.base_image.empty()) return Bad(pool, "base_image (the qcow2 disk to clone) is required");
    if (access(o.base_image.c_str(), R_OK) != 0) {
      return Bad(pool, "base_image " + o.base_image + " cannot be read");
    }
    if (access(o.domain_template.c_str(), R_OK) != 0) {
      return Bad(pool, "template " + o.domain_template + " cannot be read");
    }
    o.images_dir = std::filesystem::absolute(o.images_dir).lexically_normal().string();
    if (auto r = ValidateAgentDownload(o.agent_download); !r) return Bad(pool, r.error().message);
    o.agent_toml = PoolAgentToml(pool);
    o.templates_dir = context.templates_dir;
    o.tools = pool.tools;
    return MakeLibvirtProvisioner(std::move(o));
  }
  return MakeError(ErrorCode::kUnavailable, "pool " + pool.name + ": the " + pool.backend +
                                                " backend is not available in this build yet");
}

}  // namespace autovibe
