// Test support: child processes, free ports, temp dirs and polling with a deadline.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace autovibe::testing {

// A child process whose stdout and stderr go to a log file. Killed (SIGKILL) when this object
// is destroyed, and by the kernel if the test runner dies first.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits for the process to exit; returns its exit code (128+signal if killed), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void Kill();
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

// Whether something accepts connections on the unix socket at `path`.
bool SocketAnswers(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t FreePort();

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "autovibe-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `done` every `every` until it returns true or `deadline` passes. No sleeps as sync:
// this is the one place a test waits, and it always has a deadline.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline,
               std::chrono::milliseconds every = std::chrono::milliseconds(20));
// Runs `ioc` on this thread (restarting it whenever it runs out of work) until `done` holds;
// false when `deadline` passes first.
bool RunUntil(boost::asio::io_context& ioc, const std::function<bool()>& done,
              std::chrono::milliseconds deadline);

// The last `max_bytes` of every *.log file directly in `dir`, each under its name: what a test
// prints when processes it started did not do what it waited for.
std::string LogTails(const std::string& dir, size_t max_bytes = 6000);

// True if something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(uint16_t port);

// Processes the test did not start itself (agents a controller spawned, detached from it) are
// killed (SIGKILL) when this goes out of scope: every process with an argument under `dir`.
// Declare it after the TempDir and the daemons, so it runs before the directory goes.
class KillOnExit {
 public:
  explicit KillOnExit(std::string dir) : dir_(std::move(dir)) {}
  ~KillOnExit();
  KillOnExit(const KillOnExit&) = delete;
  KillOnExit& operator=(const KillOnExit&) = delete;

 private:
  std::string dir_;
};

// Whether process `pid` exists (and is not a zombie).
bool ProcessAlive(pid_t pid);
// Whether any live process works in `dir` (a task's workspace). A boxed tool's pids are its
// own namespace's; a test finds its processes on the host by where they run.
bool AnyProcessIn(const std::string& dir);
// The processes whose working directory is `dir`, by their pids on the host.
std::vector<pid_t> ProcessesIn(const std::string& dir);
// The host pid of the process working in `dir` that its own PID namespace (a task's box) knows
// as `inner`; 0 when there is none.
pid_t HostPid(const std::string& dir, pid_t inner);
// The real user id process `pid` runs as (a boxed task's tool: its task user); nullopt when it
// is gone.
std::optional<uid_t> ProcessUid(pid_t pid);
// The value of `name` in process `pid`'s environment as it started (/proc/<pid>/environ); empty
// when unset or unreadable.
std::string ProcessEnv(pid_t pid, const std::string& name);

// While it lives, the sockets the calling thread makes belong to `uid` (a socket belongs to
// its maker's filesystem uid, which this sets): to the metering proxy, they are a tool of the
// task running as `uid`, whose token it honours only from that user. Only the calling thread
// changes, but its file access is that user's meanwhile: hold it around a connect. Needs root.
class SocketsOwnedBy {
 public:
  explicit SocketsOwnedBy(uid_t uid);
  ~SocketsOwnedBy();
  SocketsOwnedBy(const SocketsOwnedBy&) = delete;
  SocketsOwnedBy& operator=(const SocketsOwnedBy&) = delete;

 private:
  uid_t was_;
};

}  // namespace autovibe::testing
