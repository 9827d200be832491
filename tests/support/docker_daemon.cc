#include "tests/support/docker_daemon.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace autovibe::testing {
namespace {

std::string Run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  if (pclose(p) != 0) return "";
  return out;
}

}  // namespace

bool DockerAvailable() {
  return geteuid() == 0 && access("/usr/sbin/dockerd", X_OK) == 0 &&
         access("/usr/bin/containerd", X_OK) == 0;
}

DockerDaemon::DockerDaemon(const std::string& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  proc_ = ChildProcess({"/usr/sbin/dockerd", "--data-root", dir_ + "/root", "--exec-root",
                        dir_ + "/exec", "--pidfile", dir_ + "/docker.pid", "--host", host(),
                        "--bridge=none", "--iptables=false", "--ip-masq=false"},
                       dir_ + "/dockerd.log");
  if (!WaitUntil([this] { return SocketAnswers(socket()); }, std::chrono::seconds(60),
                 std::chrono::milliseconds(100))) {
    throw std::runtime_error("dockerd did not start; log: " + proc_.Log());
  }
}

DockerDaemon::~DockerDaemon() {
  const std::string ids = Docker("ps -aq");
  if (!ids.empty()) Docker("rm -f " + ids.substr(0, ids.find_last_not_of("\n") + 1));
  proc_.Signal(SIGTERM);
  if (proc_.Wait(std::chrono::seconds(30)) < 0) proc_.Kill();
}

std::string DockerDaemon::Docker(const std::string& args) const {
  std::string flat = args;
  for (char& c : flat) {
    if (c == '\n') c = ' ';
  }
  return Run("docker --host " + host() + " " + flat + " 2>/dev/null");
}

void DockerDaemon::BuildAgentImage(const std::string& tag) {
  const std::string cmd = std::string(AV_SOURCE_DIR) + "/scripts/build-agent-image.sh --host " +
                          host() + " --tag " + tag + " >" + dir_ + "/image.log 2>&1";
  if (std::system(("BUILD_DIR=" + std::string(AV_BIN_DIR) + "/.. " + cmd).c_str()) != 0) {
    throw std::runtime_error("building the agent image failed; see " + dir_ + "/image.log");
  }
}

}  // namespace autovibe::testing
