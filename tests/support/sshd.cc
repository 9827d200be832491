#include "tests/support/sshd.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace autovibe::testing {

bool SshdAvailable() {
  return access("/usr/sbin/sshd", X_OK) == 0 && access("/usr/bin/ssh-keygen", X_OK) == 0;
}

Sshd::Sshd(const std::string& dir) : dir_(dir), port_(FreePort()) {
  std::filesystem::create_directories(dir_);
  std::filesystem::create_directories("/run/sshd");  // privilege separation needs it
  const std::string keygen = "ssh-keygen -q -N '' ";
  if (std::system((keygen + "-t ed25519 -f " + dir_ + "/host_key").c_str()) != 0 ||
      std::system((keygen + "-t ed25519 -f " + dir_ + "/id_ed25519").c_str()) != 0) {
    throw std::runtime_error("ssh-keygen failed");
  }
  std::filesystem::copy_file(dir_ + "/id_ed25519.pub", dir_ + "/authorized_keys");
  std::ofstream(dir_ + "/sshd_config")
      << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << dir_ << "/host_key\nPidFile "
      << dir_ << "/sshd.pid\nAuthorizedKeysFile " << dir_
      << "/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
         "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n"
         "StrictModes no\nSubsystem sftp /usr/lib/openssh/sftp-server\n";
  proc_ =
      ChildProcess({"/usr/sbin/sshd", "-D", "-e", "-f", dir_ + "/sshd_config"}, dir_ + "/sshd.log");
  if (!WaitUntil([this] { return PortOpen(port_); }, std::chrono::seconds(10))) {
    throw std::runtime_error("sshd did not start; log: " + proc_.Log());
  }
}

}  // namespace autovibe::testing
