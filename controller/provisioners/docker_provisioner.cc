#include "controller/provisioners/docker_provisioner.h"

#include <boost/json.hpp>
#include <filesystem>

#include "common/core/files.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/docker_api.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kDataDir = "/var/lib/autovibe/agent";
constexpr const char* kConfigDir = "/etc/autovibe";

std::string ContainerName(const std::string& machine) { return "autovibe-" + machine; }

Error Refused(const std::string& what, const DockerReply& r) {
  return MakeError(
      r.status == 404 ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
      what + ": Docker answered " + std::to_string(r.status) + ": " + DockerMessage(r));
}

class DockerProvisioner final : public Provisioner {
 public:
  explicit DockerProvisioner(DockerBackendOptions options)
      : options_(std::move(options)), api_(options_.socket) {}

  std::string_view backend() const override { return "docker"; }
  bool CanSnapshot() const override { return true; }

  Result<std::string> Create(const MachineLaunch& launch) override {
    const std::string dir = options_.machines_dir + "/" + launch.name;
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      return MakeError(ErrorCode::kConflict,
                       "the config dir " + dir + " of machine " + launch.name + " exists already");
    }
    auto made = Start(launch, dir);
    if (!made) {
      // Nothing of a half-made machine stays.
      api_.Call("DELETE", "/containers/" + ContainerName(launch.name) + "?force=true&v=true");
      fs::remove_all(dir, ec);
    }
    return made;
  }

  Result<void> Destroy(const std::string& name, const std::string& instance) override {
    const std::string target = instance.empty() ? ContainerName(name) : instance;
    auto r = api_.Call("DELETE", "/containers/" + target + "?force=true&v=true");
    if (!r) return r.error();
    if (r->status != 204 && r->status != 404) return Refused("remove container " + target, *r);
    std::error_code ec;
    fs::remove_all(options_.machines_dir + "/" + name, ec);
    return {};
  }

  Result<std::string> Snapshot(const std::string& name, const std::string& instance,
                               const std::string& snapshot) override {
    const std::string target = instance.empty() ? ContainerName(name) : instance;
    // Paused while committed, so the image is one moment of the machine.
    auto r = api_.Call("POST",
                       "/commit?container=" + target + "&repo=" + options_.snapshot_repo +
                           "&tag=" + snapshot + "&pause=true",
                       "{}", std::chrono::minutes(10));
    if (!r) return r.error();
    if (r->status != 201) return Refused("commit container " + target, *r);
    return options_.snapshot_repo + ":" + snapshot;
  }

  Result<void> DeleteSnapshot(const std::string& ref) override {
    auto r = api_.Call("DELETE", "/images/" + ref);
    if (!r) return r.error();
    if (r->status != 200 && r->status != 404) return Refused("remove image " + ref, *r);
    return {};
  }

 private:
  Result<std::string> Start(const MachineLaunch& launch, const std::string& dir) {
    if (auto r = MakeDirs(dir, 0700); !r) return r.error();
    auto toml = RenderAgentToml(
        launch, {.data_dir = kDataDir, .backend = "docker", .extra_toml = options_.agent_toml});
    if (!toml) return toml.error();
    // It holds the machine's bus password: read by the agent inside the container, as root.
    if (auto r = WriteFileAtomic(dir + "/agent.toml", *toml, 0600, false); !r) return r.error();
    const std::string image = launch.from_snapshot.empty() ? options_.image : launch.from_snapshot;
    json::object host{{"NetworkMode", options_.network},
                      {"Binds", json::array{dir + ":" + kConfigDir + ":ro"}},
                      {"Init", true}};
    if (options_.boxed_tasks) AddDockerBoxHostConfig(host);
    json::object body{{"Image", image},
                      {"Cmd", json::array{options_.agent_path, "--config",
                                          std::string(kConfigDir) + "/agent.toml"}},
                      {"Hostname", launch.name},
                      {"Labels", json::object{{"autovibe.machine", launch.machine_id},
                                              {"autovibe.pool", launch.pool}}},
                      {"HostConfig", std::move(host)}};
    auto created = api_.Call("POST", "/containers/create?name=" + ContainerName(launch.name),
                             json::serialize(body));
    if (!created) return created.error();
    if (created->status != 201) {
      return Refused("create a container from image " + image, *created);
    }
    std::string id;
    boost::system::error_code ec;
    auto v = json::parse(created->body, ec);
    if (!ec && v.is_object()) {
      if (const auto* i = v.as_object().if_contains("Id"); i != nullptr && i->is_string()) {
        id = std::string(i->as_string());
      }
    }
    if (id.empty())
      return MakeError(ErrorCode::kUnavailable, "Docker created a container without an id");
    auto started = api_.Call("POST", "/containers/" + id + "/start");
    if (!started) return started.error();
    if (started->status != 204 && started->status != 304) {
      return Refused("start container " + ContainerName(launch.name), *started);
    }
    return id;
  }

  DockerBackendOptions options_;
  DockerApi api_;
};

}  // namespace

void AddDockerBoxHostConfig(json::object& host) {
  host["CapAdd"] = json::array{"SYS_ADMIN"};
  host["SecurityOpt"] = json::array{"seccomp=unconfined", "apparmor=unconfined"};
  host["MaskedPaths"] = json::array{};
  host["ReadonlyPaths"] = json::array{};
}

std::unique_ptr<Provisioner> MakeDockerProvisioner(DockerBackendOptions options) {
  return std::make_unique<DockerProvisioner>(std::move(options));
}

}  // namespace autovibe
