#include "tests/support/nats_server.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace autovibe::testing {

NatsServer::NatsServer(const std::string& dir, const std::string& extra_config)
    : dir_(dir), config_path_(dir + "/nats.conf"), port_(FreePort()) {
  std::filesystem::create_directories(dir_);
  std::ofstream conf(config_path_);
  conf << "listen: 127.0.0.1:" << port_ << "\n"
       << "jetstream { store_dir: \"" << dir_ << "/js\" }\n"
       << extra_config << "\n";
  conf.close();
  Start();
}

void NatsServer::Stop() {
  proc_.Signal(SIGTERM);
  if (proc_.Wait(std::chrono::seconds(10)) < 0) proc_.Kill();
}

void NatsServer::Start() {
  proc_ = ChildProcess({"nats-server", "-c", config_path_}, dir_ + "/nats.log");
  if (!WaitUntil([this] { return PortOpen(port_); }, std::chrono::seconds(10))) {
    throw std::runtime_error("nats-server did not start; log: " + proc_.Log());
  }
}

}  // namespace autovibe::testing
