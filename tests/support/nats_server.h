// Test support: a real nats-server with JetStream on a free loopback port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tests/support/bus_auth.h"
#include "tests/support/process.h"

namespace autovibe::testing {

// nats-server's tls block: the server's certificate and key, and the CA its clients verify it
// with (the harness gives it to the controllers and agents it starts on this bus). With
// verify_clients the server asks clients for a certificate signed by that CA (mutual TLS).
struct NatsTls {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify_clients = false;
};

class NatsServer {
 public:
  // Starts nats-server with JetStream storing under `dir`; waits until it accepts connections.
  // Throws if it does not come up within 10 s. Authorization is on (bus_auth.h): a controller
  // user, and the users file (`dir`/nats-users.conf) controllers started on it rewrite.
  explicit NatsServer(const std::string& dir, const std::string& extra_config = "");
  // Without users: anyone may connect. `insecure.why` says what the test needs that for.
  NatsServer(const std::string& dir, const InsecureBus& insecure,
             const std::string& extra_config = "");
  // With users, speaking TLS only: url() is tls://, and the harness's controllers, agents and
  // AdminBus verify the server with `tls.ca_file`.
  NatsServer(const std::string& dir, const NatsTls& tls, const std::string& extra_config = "");
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const {
    return (tls_ ? "tls://127.0.0.1:" : "nats://127.0.0.1:") + std::to_string(port_);
  }
  uint16_t port() const { return port_; }
  void Kill() { proc_.Kill(); }
  // SIGTERM and wait: a clean shutdown that flushes JetStream state.
  void Stop();
  // Same port and storage: what a restart in production looks like.
  void Start();
  // The bus's users; nullopt for an insecure bus.
  const std::optional<BusUsers>& users() const { return users_; }

 private:
  void WriteConfig(const std::string& extra_config);
  void WriteUsers();

  std::string dir_;
  std::string config_path_;
  uint16_t port_;
  std::optional<BusUsers> users_;
  std::optional<NatsTls> tls_;
  ChildProcess proc_;
};

}  // namespace autovibe::testing
