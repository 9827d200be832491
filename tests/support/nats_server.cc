#include "tests/support/nats_server.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace autovibe::testing {

NatsServer::NatsServer(const std::string& dir, const std::string& extra_config)
    : dir_(dir), config_path_(dir + "/nats.conf"), port_(FreePort()) {
  WriteUsers();
  WriteConfig("include \"nats-users.conf\"\npid_file: \"" + users_->pid_file + "\"\n" +
              extra_config);
  RegisterBus(url(), users_);
  Start();
}

NatsServer::NatsServer(const std::string& dir, const NatsTls& tls, const std::string& extra_config)
    : dir_(dir), config_path_(dir + "/nats.conf"), port_(FreePort()), tls_(tls) {
  WriteUsers();
  std::string block = "tls {\n  cert_file: \"" + tls.cert_file + "\"\n  key_file: \"" +
                      tls.key_file + "\"\n  timeout: 2\n";
  if (tls.verify_clients) block += "  ca_file: \"" + tls.ca_file + "\"\n  verify: true\n";
  block += "}\n";
  WriteConfig("include \"nats-users.conf\"\npid_file: \"" + users_->pid_file + "\"\n" + block +
              extra_config);
  RegisterBus(url(), users_);
  RegisterBusTls(url(), BusTls{.ca_file = tls.ca_file});
  Start();
}

void NatsServer::WriteUsers() {
  users_ = BusUsers{.controller_user = "controller",
                    .controller_password = "controller-" + std::to_string(port_) + "-secret",
                    .auth_file = dir_ + "/nats-users.conf",
                    .pid_file = dir_ + "/nats.pid"};
  std::filesystem::create_directories(dir_);
  // The controller rewrites this file with a user per machine and per join token.
  std::ofstream(users_->auth_file)
      << "authorization { users = [ {user: \"" << users_->controller_user << "\", password: \""
      << users_->controller_password << "\"} ] }\n";
}

NatsServer::NatsServer(const std::string& dir, const InsecureBus& insecure,
                       const std::string& extra_config)
    : dir_(dir), config_path_(dir + "/nats.conf"), port_(FreePort()) {
  if (insecure.why.empty()) throw std::logic_error("an insecure bus needs a reason");
  std::filesystem::create_directories(dir_);
  WriteConfig(extra_config);
  RegisterBus(url(), std::nullopt);
  Start();
}

NatsServer::~NatsServer() { ForgetBus(url()); }

void NatsServer::WriteConfig(const std::string& extra_config) {
  std::ofstream conf(config_path_);
  conf << "listen: 127.0.0.1:" << port_ << "\n"
       << "jetstream { store_dir: \"" << dir_ << "/js\" }\n"
       << extra_config << "\n";
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
