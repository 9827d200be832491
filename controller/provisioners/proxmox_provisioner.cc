#include "controller/provisioners/proxmox_provisioner.h"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/core/files.h"
#include "common/http/client.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/cloud_init.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string Encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string Form(std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += std::string(k) + "=" + Encode(v);
  }
  return out;
}

// "node/vmid[/snapshot]".
struct Ref {
  std::string node, vmid, snapshot;
};
Result<Ref> ParseRef(const std::string& text) {
  Ref r;
  const auto a = text.find('/');
  if (a == std::string::npos) return MakeError(ErrorCode::kBadRequest, "bad Proxmox ref " + text);
  r.node = text.substr(0, a);
  const auto b = text.find('/', a + 1);
  r.vmid = text.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) r.snapshot = text.substr(b + 1);
  if (r.node.empty() || r.vmid.empty())
    return MakeError(ErrorCode::kBadRequest, "bad Proxmox ref " + text);
  return r;
}

class ProxmoxProvisioner final : public Provisioner {
 public:
  explicit ProxmoxProvisioner(ProxmoxBackendOptions o) : o_(std::move(o)) {}

  std::string_view backend() const override { return "proxmox"; }
  bool CanSnapshot() const override { return true; }

  Result<std::string> Create(const MachineLaunch& launch) override {
    // /cluster/nextid reserves nothing: two spawns at once would get the same id, so the id
    // is taken and the clone started one spawn at a time.
    std::unique_lock clone_lock(clone_mu_);
    auto next = Call("GET", "/cluster/nextid");
    if (!next) return next.error();
    const std::string vmid = Text(*next);
    if (vmid.empty()) return MakeError(ErrorCode::kUnavailable, "Proxmox gave no free VM id");
    std::string source = o_.template_vmid, snapname;
    std::string node = o_.node;
    bool full = o_.full_clone;
    if (!launch.from_snapshot.empty()) {
      auto ref = ParseRef(launch.from_snapshot);
      if (!ref) return ref.error();
      source = ref->vmid;
      node = ref->node;
      snapname = ref->snapshot;
      full = true;
    }
    auto cloned = Task("POST", Vm(node, source) + "/clone",
                       Form({{"newid", vmid},
                             {"name", launch.name},
                             {"full", full ? "1" : "0"},
                             {"snapname", snapname},
                             {"target", node == o_.node ? std::string() : o_.node},
                             {"storage", full ? o_.storage : std::string()}}));
    clone_lock.unlock();
    const std::string instance = o_.node + "/" + vmid;
    if (!cloned) {
      // A clone that failed or outlived our patience may still leave a VM behind.
      Destroy(launch.name, instance);
      return cloned.error();
    }
    auto started = Configure(launch, vmid);
    if (!started) {
      Destroy(launch.name, instance);
      return started.error();
    }
    return instance;
  }

  Result<void> Destroy(const std::string& name, const std::string& instance) override {
    std::error_code ec;
    std::filesystem::remove(SnippetPath(name), ec);
    if (instance.empty()) {
      // The controller stopped before it learnt the VM's id: the VM of that name, if any.
      auto vms = Call("GET", "/nodes/" + Encode(o_.node) + "/qemu");
      if (!vms) return vms.error();
      if (!vms->is_array()) return {};
      for (const json::value& vm : vms->as_array()) {
        const json::value* vm_name = vm.is_object() ? vm.as_object().if_contains("name") : nullptr;
        if (vm_name == nullptr || Text(*vm_name) != name) continue;
        const json::value* id = vm.as_object().if_contains("vmid");
        if (id != nullptr) {
          if (auto r = Destroy(name, o_.node + "/" + Text(*id)); !r) return r;
        }
      }
      return {};
    }
    auto ref = ParseRef(instance);
    if (!ref) return ref.error();
    auto status = Call("GET", Vm(ref->node, ref->vmid) + "/status/current");
    if (!status)
      return status.error().code == ErrorCode::kNotFound ? Result<void>() : status.error();
    if (status->is_object() && status->as_object().contains("status") &&
        status->at("status") == "running") {
      if (auto r = Task("POST", Vm(ref->node, ref->vmid) + "/status/stop", ""); !r) return r;
    }
    auto r = Task("DELETE", Vm(ref->node, ref->vmid) + "?purge=1&destroy-unreferenced-disks=1", "");
    if (!r && r.error().code == ErrorCode::kNotFound) return {};
    return r;
  }

  Result<std::string> Snapshot(const std::string& name, const std::string& instance,
                               const std::string& snapshot) override {
    (void)name;
    auto ref = ParseRef(instance);
    if (!ref) return ref.error();
    // Proxmox snapshot names are letters, digits, '-' and '_', starting with a letter.
    auto r = Task("POST", Vm(ref->node, ref->vmid) + "/snapshot",
                  Form({{"snapname", snapshot}, {"description", "autovibe machine checkpoint"}}));
    if (!r) return r.error();
    return ref->node + "/" + ref->vmid + "/" + snapshot;
  }

  bool CanRevert() const override { return true; }

  Result<void> Revert(const std::string& name, const std::string& instance,
                      const std::string& text) override {
    (void)name;
    auto ref = ParseRef(text);
    if (!ref) return ref.error();
    auto vm = ParseRef(instance);
    if (!vm) return vm.error();
    if (vm->node != ref->node || vm->vmid != ref->vmid || ref->snapshot.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "checkpoint " + text + " is not a snapshot of VM " + instance);
    }
    const std::string path = Vm(ref->node, ref->vmid);
    if (auto r = Task("POST", path + "/snapshot/" + Encode(ref->snapshot) + "/rollback", ""); !r) {
      return r;
    }
    // The snapshot holds no RAM: the VM is stopped after the rollback, and boots again.
    auto status = Call("GET", path + "/status/current");
    if (!status) return status.error();
    if (status->is_object() && status->as_object().contains("status") &&
        status->at("status") == "running") {
      return {};
    }
    return Task("POST", path + "/status/start", "");
  }

  Result<void> DeleteSnapshot(const std::string& text) override {
    auto ref = ParseRef(text);
    if (!ref) return ref.error();
    auto r = Task("DELETE", Vm(ref->node, ref->vmid) + "/snapshot/" + Encode(ref->snapshot), "");
    if (!r && r.error().code == ErrorCode::kNotFound) return {};
    return r;
  }

 private:
  static std::string Vm(const std::string& node, const std::string& vmid) {
    return "/nodes/" + Encode(node) + "/qemu/" + Encode(vmid);
  }
  std::string SnippetName(const std::string& machine) const {
    return "autovibe-" + machine + ".yaml";
  }
  std::string SnippetPath(const std::string& machine) const {
    return o_.snippets_dir + "/" + SnippetName(machine);
  }

  Result<void> Configure(const MachineLaunch& launch, const std::string& vmid) {
    auto toml = RenderAgentToml(
        launch,
        {.data_dir = "/var/lib/autovibe/agent", .backend = "proxmox", .extra_toml = o_.agent_toml});
    if (!toml) return toml.error();
    auto user_data = AgentUserData(o_.templates_dir, *toml, o_.agent_download, o_.tools,
                                   launch.agent.nats_ca_pem);
    if (!user_data) return user_data.error();
    if (auto r = WriteFileAtomic(SnippetPath(launch.name), *user_data, 0600); !r) return r;
    auto set = Task("POST", Vm(o_.node, vmid) + "/config",
                    Form({{"cicustom", "user=" + o_.snippets_storage + ":snippets/" +
                                           SnippetName(launch.name)}}));
    if (!set) return set.error();
    return Task("POST", Vm(o_.node, vmid) + "/status/start", "");
  }

  static std::string Text(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_int64()) return std::to_string(v.as_int64());
    return "";
  }

  // One API call; returns its "data".
  Result<json::value> Call(const std::string& method, const std::string& path,
                           const std::string& form = "") {
    HttpCall call;
    call.method = method;
    call.url = o_.url + "/api2/json" + path;
    call.headers = {{"Authorization", "PVEAPIToken=" + o_.token}};
    call.body = form;
    call.content_type = "application/x-www-form-urlencoded";
    call.ca_file = o_.ca_file;
    call.verify_tls = o_.verify_tls;
    call.timeout = std::chrono::seconds(60);
    auto r = SendHttp(call);
    if (!r)
      return MakeError(ErrorCode::kUnavailable,
                       "Proxmox " + method + " " + path + ": " + r.error().message);
    boost::system::error_code ec;
    json::value body = json::parse(r->body, ec);
    if (r->status == 401) {
      return MakeError(ErrorCode::kUnauthorized, "Proxmox refused the API token (401)");
    }
    if (r->status < 200 || r->status >= 300) {
      std::string why = r->body.substr(0, 300);
      if (!ec && body.is_object()) {
        if (const auto* m = body.as_object().if_contains("message"); m && m->is_string()) {
          why = std::string(m->as_string());
        }
      }
      const bool missing = r->status == 404 || why.find("does not exist") != std::string::npos;
      return MakeError(
          missing ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
          "Proxmox " + method + " " + path + " answered " + std::to_string(r->status) + ": " + why);
    }
    if (ec || !body.is_object()) return MakeError(ErrorCode::kUnavailable, "Proxmox sent no JSON");
    const json::value* data = body.as_object().if_contains("data");
    return data == nullptr ? json::value() : *data;
  }

  // A call that starts a task: waits until the task ends and says how.
  Result<void> Task(const std::string& method, const std::string& path, const std::string& form) {
    auto started = Call(method, path, form);
    if (!started) return started.error();
    const std::string upid = Text(*started);
    if (!upid.starts_with("UPID:")) return {};          // done at once (a synchronous call)
    auto node = upid.substr(5, upid.find(':', 5) - 5);  // UPID:node:...
    const auto deadline = std::chrono::steady_clock::now() + o_.task_timeout;
    for (;;) {
      auto st = Call("GET", "/nodes/" + Encode(node) + "/tasks/" + Encode(upid) + "/status");
      if (!st) return st.error();
      if (st->is_object() && st->as_object().contains("status") && st->at("status") == "stopped") {
        const json::value* exit = st->as_object().if_contains("exitstatus");
        const std::string how = exit != nullptr ? Text(*exit) : "";
        if (how == "OK") return {};
        return MakeError(how.find("does not exist") != std::string::npos ? ErrorCode::kNotFound
                                                                         : ErrorCode::kUnavailable,
                         "Proxmox task " + method + " " + path + " failed: " + how);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return MakeError(ErrorCode::kUnavailable,
                         "Proxmox task " + upid + " still runs after " +
                             std::to_string(o_.task_timeout.count() / 1000) + " s");
      }
      std::this_thread::sleep_for(o_.poll_every);
    }
  }

  ProxmoxBackendOptions o_;
  std::mutex clone_mu_;
};

}  // namespace

std::unique_ptr<Provisioner> MakeProxmoxProvisioner(ProxmoxBackendOptions options) {
  return std::make_unique<ProxmoxProvisioner>(std::move(options));
}

}  // namespace autovibe
