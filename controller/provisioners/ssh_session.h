// An SSH connection with libssh2: public-key login, host keys checked against a known_hosts
// file (trust on first use: an unknown host is added, a changed key is refused), commands
// run through the remote shell, files written over SFTP. Blocking: provisioning threads only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct SshTarget {
  std::string user = "root";
  std::string host;
  uint16_t port = 22;
  std::string str() const { return user + "@" + host + ":" + std::to_string(port); }
};

// "user@host:port", "user@host" (port 22) or "host" (user root). Errors: bad_config.
Result<SshTarget> ParseSshTarget(const std::string& text);

struct SshCredentials {
  std::string private_key;  // path
  std::string public_key;   // path; empty: private_key + ".pub"
  std::string known_hosts;  // path; created when missing
};

struct ExecResult {
  int exit_status = -1;
  std::string output;  // stdout and stderr, at most 64 KiB
};

class SshSession {
 public:
  // Errors: unavailable (no connection, a timeout), unauthorized (the host refused the key,
  // or its host key changed).
  static Result<std::unique_ptr<SshSession>> Open(
      const SshTarget& target, const SshCredentials& credentials,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  Result<ExecResult> Exec(const std::string& command);
  // Writes `content` to `remote_path` (replacing it) with `mode`.
  Result<void> Write(const std::string& remote_path, const std::string& content, long mode);
  // Copies a local file to `remote_path` with `mode`.
  Result<void> Upload(const std::string& local_path, const std::string& remote_path, long mode);

 private:
  struct State;
  explicit SshSession(std::unique_ptr<State> state);
  Result<void> WriteFrom(const std::string& remote_path, long mode,
                         const std::function<Result<size_t>(char*, size_t)>& read);
  std::unique_ptr<State> s_;
};

// A string quoted for the remote POSIX shell.
std::string ShellQuote(const std::string& s);

}  // namespace autovibe
