#include "controller/provisioners/ssh_provisioner.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "common/core/files.h"
#include "controller/provisioners/agent_toml.h"

namespace autovibe {
namespace {

// Written on the host while a machine holds it: another spawn leaves the host alone.
constexpr const char* kMarker = "machine";

class SshProvisioner final : public Provisioner {
 public:
  explicit SshProvisioner(SshBackendOptions options) : o_(std::move(options)) {}

  std::string_view backend() const override { return "ssh"; }

  Result<std::string> Create(const MachineLaunch& launch) override {
    std::string last_error = "the pool lists no hosts";
    for (const std::string& host : o_.hosts) {
      if (!Claim(host)) continue;
      auto r = Adopt(host, launch);
      if (r) return host;
      Release(host);
      // A host that is down, refuses us or is taken: try the next one.
      last_error = r.error().message;
    }
    return MakeError(ErrorCode::kConflict,
                     "no host could be adopted; the last one said: " + last_error);
  }

  Result<void> Destroy(const std::string& name, const std::string& instance) override {
    if (instance.empty()) {
      // The controller stopped before it learnt which host the machine got: any host whose
      // marker names it.
      for (const std::string& host : o_.hosts) {
        if (auto r = DestroyOn(name, host); !r) {
          spdlog::warn("ssh: cannot look for machine {} on {}: {}", name, host, r.error().message);
        }
      }
      return {};
    }
    return DestroyOn(name, instance);
  }

 private:
  Result<void> DestroyOn(const std::string& name, const std::string& instance) {
    auto target = ParseSshTarget(instance);
    if (!target) return target.error();
    auto ssh = SshSession::Open(*target, o_.credentials);
    if (!ssh) return ssh.error();
    // Only if the host still holds this machine.
    auto held = (*ssh)->Exec("cat " + ShellQuote(Dir() + "/" + kMarker) + " 2>/dev/null");
    if (!held) return held.error();
    if (held->output != name) {
      Release(instance);
      return {};
    }
    const std::string stop =
        "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then "
        "systemctl disable --now autovibe-agent >/dev/null 2>&1; rm -f " +
        ShellQuote(o_.unit_path) +
        "; systemctl daemon-reload; "
        "else pid=$(cat " +
        ShellQuote(Dir() + "/agent.pid") +
        " 2>/dev/null) && kill \"$pid\" 2>/dev/null; i=0; "
        "while [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null && [ $i -lt 100 ]; do "
        "sleep 0.1; i=$((i+1)); done; [ -n \"$pid\" ] && kill -9 \"$pid\" 2>/dev/null; fi; "
        "rm -rf " +
        ShellQuote(o_.data_dir) + " " + ShellQuote(Dir());
    auto r = (*ssh)->Exec(stop + " && [ ! -e " + ShellQuote(Dir()) + " ]");
    if (!r) return r.error();
    if (r->exit_status != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "removing the agent from " + instance + " failed: " + r->output);
    }
    Release(instance);
    return {};
  }

  std::string Dir() const { return o_.install_dir; }

  bool Claim(const std::string& host) {
    std::lock_guard lock(mu_);
    return claimed_.insert(host).second;
  }
  void Release(const std::string& host) {
    std::lock_guard lock(mu_);
    claimed_.erase(host);
  }

  Result<void> Adopt(const std::string& host, const MachineLaunch& launch) {
    auto target = ParseSshTarget(host);
    if (!target) return target.error();
    auto ssh = SshSession::Open(*target, o_.credentials);
    if (!ssh) return ssh.error();
    SshSession& s = **ssh;
    const std::string dir = Dir();
    // Claim the host on the host itself (mkdir is atomic), so two controllers, or one that
    // restarted, never put two agents there.
    auto claimed =
        s.Exec("mkdir -p " + ShellQuote(dir + "/bin") + " || exit 3; set -C; printf %s " +
               ShellQuote(launch.name) + " > " + ShellQuote(dir + "/" + kMarker));
    if (!claimed) return claimed.error();
    if (claimed->exit_status == 3) {
      return MakeError(ErrorCode::kUnavailable,
                       "cannot create " + dir + " on " + host + ": " + claimed->output);
    }
    if (claimed->exit_status != 0) {
      return MakeError(ErrorCode::kConflict, host + " already holds a machine");
    }
    auto installed = Install(s, launch);
    if (!installed) {
      s.Exec("rm -rf " + ShellQuote(dir));
      return installed.error();
    }
    return {};
  }

  Result<void> Install(SshSession& s, const MachineLaunch& launch) {
    const std::string dir = Dir();
    auto toml = RenderAgentToml(
        launch, {.data_dir = o_.data_dir, .backend = "ssh", .extra_toml = o_.agent_toml});
    if (!toml) return toml.error();
    if (auto r = s.Upload(o_.agent_binary, dir + "/bin/autovibe-agent.new", 0755); !r) return r;
    if (auto r = s.Write(dir + "/agent.toml", *toml, 0600); !r) return r;
    auto unit = ReadFile(o_.unit_template);
    if (!unit) return unit.error();
    std::string text = *unit;
    Replace(text, "/opt/autovibe/bin/autovibe-agent", dir + "/bin/autovibe-agent");
    Replace(text, "/etc/autovibe/agent.toml", dir + "/agent.toml");
    const std::string agent = ShellQuote(dir + "/bin/autovibe-agent");
    const std::string config = ShellQuote(dir + "/agent.toml");
    std::string start = "mv " + ShellQuote(dir + "/bin/autovibe-agent.new") + " " + agent + "; ";
    start +=
        "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then "
        "cat > " +
        ShellQuote(o_.unit_path) + " <<'AUTOVIBE_UNIT'\n" + text +
        "AUTOVIBE_UNIT\n"
        "systemctl daemon-reload && systemctl enable --now autovibe-agent; "
        "else setsid " +
        agent + " --config " + config + " >> " + ShellQuote(dir + "/agent.log") +
        " 2>&1 < /dev/null & echo $! > " + ShellQuote(dir + "/agent.pid") + "; fi";
    auto r = s.Exec(start);
    if (!r) return r.error();
    if (r->exit_status != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "starting the agent on the host failed: " + r->output);
    }
    return {};
  }

  static void Replace(std::string& text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }

  SshBackendOptions o_;
  std::mutex mu_;
  std::set<std::string> claimed_;  // hosts a Create or Destroy is working on, or holds
};

}  // namespace

std::unique_ptr<Provisioner> MakeSshProvisioner(SshBackendOptions options) {
  return std::make_unique<SshProvisioner>(std::move(options));
}

}  // namespace autovibe
