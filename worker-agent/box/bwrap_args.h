// The bubblewrap command line that puts one tool in its box, and the /etc/passwd and
// /etc/group the box sees. Pure functions: the host is read by SystemBinds, once.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace autovibe::box {

// How a system path appears in every box: bound read-only, or a symlink as on the host.
struct SystemBind {
  std::string path;
  std::string symlink_target;  // empty: a directory or file, bound read-only
};

// What the host has of `paths` (missing ones are left out). Reads the host (lstat, readlink).
std::vector<SystemBind> SystemBinds(const std::vector<std::string>& paths);

struct BwrapBox {
  std::string bwrap;  // the binary
  uid_t uid = 0;
  gid_t gid = 0;
  std::string hostname = "autovibe-task";  // the machine's, so the task knows where it runs
  std::vector<SystemBind> system;
  // Bound read-write inside the box at `dest`, from where the keeper staged them (the real
  // paths lie in the agent's 0700 data dir, which the task user cannot walk): the workspace,
  // HOME, shared paths.
  struct Bind {
    std::string source, dest;
  };
  std::vector<Bind> binds;
  std::string workspace;  // the working directory
  // Masked inside the box though under a system path (the agent's config and key files).
  std::vector<std::string> hidden_files;
  int passwd_fd = -1;  // read by bwrap: the box's /etc/passwd and /etc/group
  int group_fd = -1;
};

// bwrap's arguments up to and including "--"; the tool's path and arguments follow. No
// network namespace of its own: the box keeps the keeper's (the host's, or proxy-only).
std::vector<std::string> BwrapArgs(const BwrapBox& box);

// /etc/passwd and /etc/group inside a box: root, nobody and the task's own user, so tools that
// look up their user (git, ssh, python's getpass) work.
inline constexpr const char* kTaskUserName = "autovibe-task";
std::string BoxPasswd(uid_t uid, gid_t gid, const std::string& home);
std::string BoxGroup(gid_t gid);

}  // namespace autovibe::box
