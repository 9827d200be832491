#include "controller/provisioners/local_provisioner.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <thread>

#include "common/core/files.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/detached_process.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;

class LocalProvisioner final : public Provisioner {
 public:
  explicit LocalProvisioner(LocalBackendOptions options) : options_(std::move(options)) {}

  std::string_view backend() const override { return "local"; }

  Result<std::string> Create(const MachineLaunch& launch) override {
    const std::string dir = DirOf(launch.name);
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      return MakeError(ErrorCode::kConflict, "the data dir " + dir + " of machine " + launch.name +
                                                 " exists already; remove it or pick another name");
    }
    auto made = Prepare(launch, dir);
    if (made) {
      auto pid = SpawnDetached({.argv = {options_.agent_binary, "--config", ConfigOf(dir)},
                                .cwd = dir,
                                .log_path = dir + "/agent.log"});
      if (pid) return std::to_string(*pid);
      made = pid.error();
    }
    fs::remove_all(dir, ec);
    return made.error();
  }

  Result<void> Destroy(const std::string& name, const std::string& instance) override {
    const std::string dir = DirOf(name);
    pid_t pid = 0;
    std::from_chars(instance.data(), instance.data() + instance.size(), pid);
    // Only the agent we started: after a restart of the host the pid may be anyone's.
    const std::string marker = ConfigOf(dir);
    // The controller stopped before it learnt the pid: the agent started with this config.
    if (instance.empty()) pid = FindProcessWithArg(marker);
    // Waits (at most `grace`) until the agent signalled has exited; whether it has.
    auto gone_within = [&](std::chrono::milliseconds grace) {
      const auto deadline = std::chrono::steady_clock::now() + grace;
      while (!ProcessGone(pid, marker) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return ProcessGone(pid, marker);
    };
    if (ProcessHasArg(pid, marker)) {
      kill(pid, SIGTERM);
      if (!gone_within(options_.stop_grace) && ProcessHasArg(pid, marker)) {
        spdlog::warn("local machine {} (pid {}) did not stop within {} ms; killing it", name, pid,
                     options_.stop_grace.count());
        kill(pid, SIGKILL);
        // SIGKILL is not instant either: the machine is destroyed once its agent is gone.
        if (!gone_within(std::chrono::seconds(5))) {
          return MakeError(ErrorCode::kUnavailable, "local machine " + name + " (pid " +
                                                        std::to_string(pid) + ") survived SIGKILL");
        }
      }
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return MakeError(ErrorCode::kUnavailable, "cannot remove " + dir + ": " + ec.message());
    return {};
  }

 private:
  std::string DirOf(const std::string& name) const { return options_.machines_dir + "/" + name; }
  static std::string ConfigOf(const std::string& dir) { return dir + "/agent.toml"; }

  Result<void> Prepare(const MachineLaunch& launch, const std::string& dir) {
    if (auto r = MakeDirs(dir, 0700); !r) return r.error();
    auto toml = RenderAgentToml(
        launch, {.data_dir = dir + "/data", .backend = "local", .extra_toml = options_.agent_toml});
    if (!toml) return toml.error();
    return WriteFileAtomic(ConfigOf(dir), *toml, 0600, false);
  }

  LocalBackendOptions options_;
};

}  // namespace

std::unique_ptr<Provisioner> MakeLocalProvisioner(LocalBackendOptions options) {
  return std::make_unique<LocalProvisioner>(std::move(options));
}

}  // namespace autovibe
