// Test support: an OpenSSH server of the test's own on a loopback port (its own host key,
// config and authorized key), and a client key pair that it accepts for root.
#pragma once

#include <cstdint>
#include <string>

#include "tests/support/process.h"

namespace autovibe::testing {

class Sshd {
 public:
  // Generates the keys under `dir`, starts sshd and waits until it accepts connections.
  // Throws if it does not come up within 10 s.
  explicit Sshd(const std::string& dir);

  uint16_t port() const { return port_; }
  std::string target() const { return "root@127.0.0.1:" + std::to_string(port_); }
  std::string private_key() const { return dir_ + "/id_ed25519"; }
  std::string host_public_key() const { return dir_ + "/host_key.pub"; }

 private:
  std::string dir_;
  uint16_t port_;
  ChildProcess proc_;
};

// Whether sshd and ssh-keygen are installed.
bool SshdAvailable();

}  // namespace autovibe::testing
