// The box's settings (agent config's task_user, network and [box] table) and bubblewrap's
// command line built from them.
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "worker-agent/agent_config.h"
#include "worker-agent/box/bwrap_args.h"

namespace autovibe {
namespace {

using Args = std::vector<std::string>;

// The index of the first occurrence of `seq` (consecutive) in `args`; -1 when absent.
long Find(const Args& args, const Args& seq) {
  for (size_t i = 0; i + seq.size() <= args.size(); ++i) {
    if (std::equal(seq.begin(), seq.end(), args.begin() + static_cast<long>(i))) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

box::BwrapBox SampleBox() {
  box::BwrapBox b;
  b.bwrap = "/usr/bin/bwrap";
  b.uid = 61003;
  b.gid = 61003;
  b.system = {{"/usr", ""}, {"/bin", "usr/bin"}, {"/etc", ""}};
  b.workspace = "/tmp/t/agent/workspaces/t-1";
  b.binds = {{"/run/autovibe-box/home", "/tmp/t/agent/homes/t-1"},
             {"/run/autovibe-box/workspace", "/tmp/t/agent/workspaces/t-1"}};
  b.hidden_files = {"/etc/autovibe/agent.toml"};
  b.passwd_fd = 7;
  b.group_fd = 8;
  return b;
}

}  // namespace

TEST_CASE("tasks are boxed by default, on the host's network") {
  AgentConfig c;
  c.name = "w1";
  CHECK(ValidateAgentConfig(c));
  CHECK(c.box.task_user == box::TaskUser::kPerTask);
  CHECK(c.box.network == box::TaskNetwork::kHost);
  CHECK(c.box.uid_base == 61000);
}

TEST_CASE("task_user, network and the [box] table come from TOML") {
  AgentConfig c;
  c.name = "w1";
  REQUIRE(LoadAgentConfigToml(R"(
task_user = "per-task"
network = "proxy-only"
[box]
uid_base = 70000
bwrap = "/opt/bwrap"
ro_paths = ["/srv/tools"]
shared_paths = ["/srv/cache"]
stage_dir = "/run/av-stage"
memory_max_bytes = 1073741824
pids_max = 256
cpu_weight = 50
)",
                              c));
  CHECK(c.box.network == box::TaskNetwork::kProxyOnly);
  CHECK(c.box.uid_base == 70000);
  CHECK(c.box.bwrap == "/opt/bwrap");
  CHECK(c.box.ro_paths == std::vector<std::string>{"/srv/tools"});
  CHECK(c.box.shared_paths == std::vector<std::string>{"/srv/cache"});
  CHECK(c.box.stage_dir == "/run/av-stage");
  CHECK(c.box.memory_max_bytes == 1u << 30);
  CHECK(c.box.pids_max == 256);
  CHECK(c.box.cpu_weight == 50);
  CHECK(ValidateAgentConfig(c));

  AgentConfig root;
  REQUIRE(LoadAgentConfigToml("task_user = \"root\"\n", root));
  CHECK(root.box.task_user == box::TaskUser::kRoot);
}

TEST_CASE("box settings that make no sense are refused with the key named") {
  auto load_error = [](const std::string& toml) {
    AgentConfig c;
    auto r = LoadAgentConfigToml(toml, c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    return r.error().message;
  };
  CHECK_THAT(load_error("task_user = \"nobody\"\n"),
             Catch::Contains("task_user must be \"per-task\"") && Catch::Contains("\"root\""));
  CHECK_THAT(load_error("network = \"none\"\n"), Catch::Contains("network must be"));
  CHECK_THAT(load_error("[box]\nuid = 5\n"), Catch::Contains("box.uid"));
  CHECK_THAT(load_error("[box]\nro_paths = [\"relative\"]\n"),
             Catch::Contains("box.ro_paths must be an array of absolute paths"));

  auto invalid = [](const std::function<void(AgentConfig&)>& change) {
    AgentConfig c;
    c.name = "w1";
    change(c);
    auto r = ValidateAgentConfig(c);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  // The uid range may not reach system users or nobody (65534).
  CHECK_THAT(invalid([](AgentConfig& c) { c.box.uid_base = 100; }), Catch::Contains("uid_base"));
  CHECK_THAT(invalid([](AgentConfig& c) {
               c.box.uid_base = 65000;
               c.task_slots = 300;
             }),
             Catch::Contains("nobody (65534)"));
  CHECK_THAT(invalid([](AgentConfig& c) {
               c.box.task_user = box::TaskUser::kRoot;
               c.box.network = box::TaskNetwork::kProxyOnly;
             }),
             Catch::Contains("proxy-only\" needs task_user = \"per-task\""));
  CHECK_THAT(invalid([](AgentConfig& c) { c.box.stage_dir = "/"; }), Catch::Contains("stage_dir"));
  // A root task does not use the uid range: any base will do.
  AgentConfig root;
  root.name = "w1";
  root.box.task_user = box::TaskUser::kRoot;
  root.box.uid_base = 0;
  CHECK(ValidateAgentConfig(root));
}

TEST_CASE("the flags --task-user and --network override the file") {
  std::vector<std::string> args = {"autovibe-agent", "--name",    "w1",  "--task-user",
                                   "root",           "--network", "host"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = ParseAgentArgs(static_cast<int>(argv.size()), argv.data());
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.box.task_user == box::TaskUser::kRoot);
  args[4] = "admin";
  argv.clear();
  for (auto& a : args) argv.push_back(a.data());
  CHECK(ParseAgentArgs(static_cast<int>(argv.size()), argv.data()).exit_code == 2);
}

TEST_CASE(
    "bwrap runs the tool as its task user in new user, PID, IPC, UTS and mount "
    "namespaces") {
  const Args a = box::BwrapArgs(SampleBox());
  REQUIRE(a.size() > 4);
  CHECK(a.front() == "/usr/bin/bwrap");
  CHECK(a.back() == "--");
  CHECK(Find(a, {"--unshare-user", "--uid", "61003", "--gid", "61003"}) >= 0);
  for (const char* flag :
       {"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"}) {
    CHECK(Find(a, {flag}) >= 0);
  }
  // The network namespace is the keeper's (the host's, or proxy-only): bwrap makes none.
  CHECK(Find(a, {"--unshare-net"}) < 0);
  CHECK(Find(a, {"--unshare-all"}) < 0);
  // System paths read-only, symlinks as on the host; its own /proc, /dev and /tmp.
  CHECK(Find(a, {"--ro-bind", "/usr", "/usr"}) >= 0);
  CHECK(Find(a, {"--symlink", "usr/bin", "/bin"}) >= 0);
  CHECK(Find(a, {"--proc", "/proc"}) >= 0);
  CHECK(Find(a, {"--tmpfs", "/tmp"}) >= 0);
  // The agent's config masked; the box's own passwd and group over the host's.
  const long etc = Find(a, {"--ro-bind", "/etc", "/etc"});
  CHECK(Find(a, {"--ro-bind", "/dev/null", "/etc/autovibe/agent.toml"}) > etc);
  CHECK(Find(a, {"--ro-bind-data", "7", "/etc/passwd"}) > etc);
  CHECK(Find(a, {"--ro-bind-data", "8", "/etc/group"}) > etc);
  // Workspace and HOME read-write from the stage, after /tmp (they may lie under it).
  const long tmp = Find(a, {"--tmpfs", "/tmp"});
  CHECK(Find(a, {"--bind", "/run/autovibe-box/workspace", "/tmp/t/agent/workspaces/t-1"}) > tmp);
  CHECK(Find(a, {"--bind", "/run/autovibe-box/home", "/tmp/t/agent/homes/t-1"}) > tmp);
  CHECK(Find(a, {"--chdir", "/tmp/t/agent/workspaces/t-1", "--"}) >= 0);
  // Nothing else of the host is bound read-write.
  CHECK(std::count(a.begin(), a.end(), "--bind") == 2);
  CHECK(std::count(a.begin(), a.end(), "--dev-bind") == 0);
}

TEST_CASE("a box's passwd and group name its task user, root and nobody") {
  const std::string passwd = box::BoxPasswd(61002, 61002, "/data/homes/t-9");
  CHECK(passwd ==
        "root:x:0:0:root:/root:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "autovibe-task:x:61002:61002:autovibe task:/data/homes/t-9:/bin/sh\n");
  CHECK(box::BoxGroup(61002) == "root:x:0:\nnogroup:x:65534:\nautovibe-task:x:61002:\n");
}

TEST_CASE("system binds keep the host's symlinks and leave out what it lacks") {
  auto binds = box::SystemBinds({"/usr", "/no/such/dir", "/proc/self"});
  REQUIRE(binds.size() == 2);
  CHECK(binds[0].path == "/usr");
  CHECK(binds[0].symlink_target.empty());
  CHECK(binds[1].path == "/proc/self");
  CHECK(binds[1].symlink_target == std::to_string(getpid()));
}

}  // namespace autovibe
