// Test support: a real nats-server with JetStream on a free loopback port.
#pragma once

#include <cstdint>
#include <string>

#include "tests/support/process.h"

namespace autovibe::testing {

class NatsServer {
 public:
  // Starts nats-server with JetStream storing under `dir`; waits until it accepts connections.
  // Throws if it does not come up within 10 s.
  explicit NatsServer(const std::string& dir, const std::string& extra_config = "");
  ~NatsServer() = default;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  void Kill() { proc_.Kill(); }
  // SIGTERM and wait: a clean shutdown that flushes JetStream state.
  void Stop();
  // Same port and storage: what a restart in production looks like.
  void Start();

 private:
  std::string dir_;
  std::string config_path_;
  uint16_t port_;
  ChildProcess proc_;
};

}  // namespace autovibe::testing
