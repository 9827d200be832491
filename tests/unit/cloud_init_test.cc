// The cloud-init user data the VM provisioners render (controller/provisioners/cloud_init.h):
// the agent's package or binary, and the coding tools a pool lists with the lockfiles that pin
// them.
#include "controller/provisioners/cloud_init.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "common/core/files.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/support/user_data.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

const std::string kTemplates = std::string(AV_SOURCE_DIR) + "/templates";
const std::string kSum(64, 'a');

// The runcmd line of the user data that names `key`= (one line of a folded shell command).
std::string ShellLine(const std::string& user_data, const std::string& key) {
  const size_t at = user_data.find(key + "='");
  if (at == std::string::npos) return "";
  return user_data.substr(at, user_data.find('\n', at) - at);
}

}  // namespace

TEST_CASE("cloud-init installs the tools a pool lists, pinned by the tree's lockfiles",
          "[cloud-init]") {
  auto ud = AgentUserData(kTemplates, "name = \"w-1\"\n", {},
                          {"shell", "codex", "claude-code", "aider", "git"});
  REQUIRE(ud);
  // In the order install-tools.sh takes them; shell needs nothing, aider cannot be installed.
  CHECK(ShellLine(*ud, "tools") == "tools='git claude-code codex'; [ -z \"$tools\" ] ||");
  for (const std::string tool : {"claude-code", "codex"}) {
    for (const std::string file : {"package.json", "package-lock.json"}) {
      INFO(tool << "/" << file);
      const std::string path = "/usr/local/share/autovibe/tools/" + tool + "/" + file;
      CHECK(WrittenFile(*ud, path) == ReadFile(kTemplates + "/tools/" + tool + "/" + file).value());
    }
  }
  CHECK(WrittenFile(*ud, "/usr/local/share/autovibe/tools/install-tools.sh") ==
        ReadFile(kTemplates + "/tools/install-tools.sh").value());
  CHECK(WrittenFile(*ud, "/etc/autovibe/agent.toml") == "name = \"w-1\"\n");
}

TEST_CASE("cloud-init takes only the tool names it knows into its shell", "[cloud-init]") {
  auto ud = AgentUserData(kTemplates, "", {}, {"codex'; rm -rf /; '", "$(reboot)", "node"});
  REQUIRE(ud);
  CHECK(ShellLine(*ud, "tools") == "tools='node'; [ -z \"$tools\" ] ||");
  CHECK(ud->find("reboot") == std::string::npos);
  CHECK(ud->find("rm -rf /;") == std::string::npos);
  auto none = AgentUserData(kTemplates, "", {}, {"shell"});
  REQUIRE(none);
  CHECK(ShellLine(*none, "tools") == "tools=''; [ -z \"$tools\" ] ||");
}

TEST_CASE("cloud-init installs the agent's package or its binary, each checked by its SHA-256",
          "[cloud-init]") {
  auto deb =
      AgentUserData(kTemplates, "", {"http://10.0.2.2:8000/autovibe-agent_0.1.0_amd64.deb", kSum});
  REQUIRE(deb);
  CHECK(ShellLine(*deb, "url") ==
        "url='http://10.0.2.2:8000/autovibe-agent_0.1.0_amd64.deb'; sum='" + kSum +
            "'; dir=/var/cache/autovibe; pkg=0;");
  // The package is installed with apt (its dependencies come along), the config written by
  // cloud-init kept, and only once the sum is right.
  CHECK_THAT(*deb, Catch::Contains("sha256sum -c - &&\n      apt-get update -q") &&
                       Catch::Contains("-o Dpkg::Options::=--force-confold"));
  // A bad sum or a URL that is not one is refused before anything is rendered.
  auto bad = AgentUserData(kTemplates, "", {"http://h/a.deb", "abc"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kBadConfig);
  auto hostile = AgentUserData(kTemplates, "", {"http://h/a.deb';reboot;'", kSum});
  REQUIRE_FALSE(hostile);
  CHECK(hostile.error().code == ErrorCode::kBadConfig);
}

TEST_CASE("the rendered user data is valid cloud-config", "[cloud-init]") {
  if (std::system("command -v cloud-init >/dev/null 2>&1") != 0) {
    WARN("cloud-init is not installed: schema not checked (scripts/install-deps.sh)");
    return;
  }
  auto ud = AgentUserData(kTemplates, "nats = \"nats://10.0.0.2:4222\"\n",
                          {"https://example.org/autovibe-agent_0.1.0_amd64.deb", kSum},
                          {"git", "claude-code", "codex"});
  REQUIRE(ud);
  TempDir dir;
  const std::string file = dir.path() + "/user-data.yaml";
  std::ofstream(file) << *ud;
  CHECK(std::system(("cloud-init schema --config-file " + file + " >/dev/null 2>&1").c_str()) == 0);
}
