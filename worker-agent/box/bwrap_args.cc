#include "worker-agent/box/bwrap_args.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>

namespace autovibe::box {

std::vector<SystemBind> SystemBinds(const std::vector<std::string>& paths) {
  std::vector<SystemBind> out;
  for (const auto& path : paths) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    SystemBind b{path, ""};
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      const ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      b.symlink_target.assign(target, static_cast<size_t>(n));
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<std::string> BwrapArgs(const BwrapBox& b) {
  std::vector<std::string> a = {b.bwrap,
                                // The user namespace is made by the task user, so it maps only that
                                // uid: the task holds no capability over anything outside its box.
                                "--unshare-user", "--uid", std::to_string(b.uid), "--gid",
                                std::to_string(b.gid), "--unshare-pid", "--unshare-ipc",
                                "--unshare-uts", "--hostname", b.hostname, "--die-with-parent",
                                // No terminal to push keystrokes into (TIOCSTI), and a process
                                // group of its own that the keeper asks to stop (tool_keeper.cc).
                                "--new-session"};
  for (const auto& s : b.system) {
    if (s.symlink_target.empty()) {
      a.insert(a.end(), {"--ro-bind", s.path, s.path});
    } else {
      a.insert(a.end(), {"--symlink", s.symlink_target, s.path});
    }
  }
  for (const auto& f : b.hidden_files) a.insert(a.end(), {"--ro-bind", "/dev/null", f});
  if (b.passwd_fd >= 0) {
    a.insert(a.end(), {"--ro-bind-data", std::to_string(b.passwd_fd), "/etc/passwd"});
  }
  if (b.group_fd >= 0) {
    a.insert(a.end(), {"--ro-bind-data", std::to_string(b.group_fd), "/etc/group"});
  }
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp",
                     "--tmpfs", "/var/tmp"});
  // After /tmp: a workspace under /tmp is bound over the box's own /tmp.
  for (const auto& bind : b.binds) a.insert(a.end(), {"--bind", bind.source, bind.dest});
  a.insert(a.end(), {"--chdir", b.workspace, "--"});
  return a;
}

std::string BoxPasswd(uid_t uid, gid_t gid, const std::string& home) {
  return "root:x:0:0:root:/root:/bin/sh\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
         std::string(kTaskUserName) + ":x:" + std::to_string(uid) + ":" + std::to_string(gid) +
         ":autovibe task:" + home + ":/bin/sh\n";
}

std::string BoxGroup(gid_t gid) {
  return "root:x:0:\nnogroup:x:65534:\n" + std::string(kTaskUserName) +
         ":x:" + std::to_string(gid) + ":\n";
}

}  // namespace autovibe::box
