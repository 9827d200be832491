// Test support: a dockerd of the test's own (its own data root, exec root and socket under a
// temp dir), with containerd started by it, and the agent image built into it.
#pragma once

#include <string>

#include "tests/support/process.h"

namespace autovibe::testing {

class DockerDaemon {
 public:
  // Starts dockerd and waits until it answers (throws after 60 s). No bridge network and no
  // iptables rules: containers use the host's network.
  explicit DockerDaemon(const std::string& dir);
  // Removes every container, then stops the daemon (and its containerd).
  ~DockerDaemon();

  std::string socket() const { return dir_ + "/docker.sock"; }
  std::string host() const { return "unix://" + socket(); }
  // Builds the agent image from this tree (scripts/build-agent-image.sh); throws on failure.
  void BuildAgentImage(const std::string& tag);
  // Runs `docker --host ... ARGS` and returns its stdout (empty on failure).
  std::string Docker(const std::string& args) const;

 private:
  std::string dir_;
  ChildProcess proc_;
};

// Whether dockerd can be started here (the binary exists and we are root).
bool DockerAvailable();

}  // namespace autovibe::testing
