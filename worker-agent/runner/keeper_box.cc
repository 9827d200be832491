#include "worker-agent/runner/keeper_box.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace autovibe::runner {
namespace {

int Failed(int stage) { return stage; }

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool JoinCgroup(const char* procs) {
  const int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = WriteAll(fd, "0", 1);  // "0": the writing process
  close(fd);
  return ok;
}

bool Stage(const char* source, const char* target) {
  if (mkdir(target, 0700) != 0 && errno != EEXIST) return false;
  return mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) == 0;
}

bool LoopbackUp() {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq ifr {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  close(s);
  return ok;
}

// A socket listening on 127.0.0.1:port of this (new) network namespace, sent to the agent.
bool SendProxyListener(uint16_t port, int channel) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  const int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
            listen(s, SOMAXCONN) == 0;
  if (ok) {
    char byte = 'L';
    struct iovec iov {
      &byte, 1
    };
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &s, sizeof(int));
    ssize_t n;
    while ((n = sendmsg(channel, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    ok = n == 1;
  }
  close(s);
  close(channel);
  return ok;
}

// "/proc/<pid>/task/<pid>/children" into `out` (no allocation).
void ChildrenPath(pid_t pid, char* out) {
  char digits[16];
  int n = 0;
  for (pid_t p = pid; p > 0 && n < 15; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
  char* o = out;
  auto put = [&o](const char* s) {
    while (*s) *o++ = *s++;
  };
  auto put_pid = [&] {
    for (int i = n - 1; i >= 0; --i) *o++ = digits[i];
  };
  put("/proc/");
  put_pid();
  put("/task/");
  put_pid();
  put("/children");
  *o = '\0';
}

// The first child the kernel lists for `pid`; 0 when none (or unreadable).
pid_t FirstChild(pid_t pid) {
  char path[64];
  ChildrenPath(pid, path);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  close(fd);
  pid_t child = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
    child = child * 10 + (buf[i] - '0');
  return child;
}

}  // namespace

int EnterBox(const KeeperBox& box) {
  if (box.cgroup_procs != nullptr && !JoinCgroup(box.cgroup_procs)) return Failed(kStageCgroup);
  if (unshare(CLONE_NEWNS | (box.own_network ? CLONE_NEWNET : 0)) != 0) return Failed(kStageBox);
  // Nothing mounted from here on reaches the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return Failed(kStageBox);
  if (mount("tmpfs", box.stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") !=
      0) {
    return Failed(kStageBox);
  }
  for (int i = 0; i < box.bind_count; ++i) {
    if (!Stage(box.bind_sources[i], box.stage_targets[i])) return Failed(kStageBox);
  }
  if (box.own_network &&
      (!LoopbackUp() || !SendProxyListener(box.proxy_port, box.listener_channel))) {
    return Failed(kStageNetwork);
  }
  if (chdir("/") != 0) return Failed(kStageBox);
  // For good: no supplementary groups, and real, effective and saved ids all the task's.
  // Raw system calls, not glibc's wrappers: those make every thread of the process change ids
  // too, walking a thread list that in a child of _Fork still names the agent's threads, and
  // wait for them forever (a keeper hung there now and then, with its agent blocked on it).
  // The keeper is single-threaded; the call changes exactly it.
  if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
      syscall(SYS_setresgid, box.gid, box.gid, box.gid) != 0 ||
      syscall(SYS_setresuid, box.uid, box.uid, box.uid) != 0) {
    return Failed(kStageUser);
  }
  for (int fd : box.keep_fds) {
    if (fd >= 0 && fcntl(fd, F_SETFD, 0) != 0) return Failed(kStageFds);
  }
  return 0;
}

bool TermBox(pid_t bwrap) {
  const pid_t init = FirstChild(bwrap);  // the box's pid 1
  const pid_t command = init > 0 ? FirstChild(init) : 0;
  if (command <= 0) return false;
  // The command leads a session of its own (--new-session): its group is its pid.
  if (kill(-command, SIGTERM) != 0) kill(command, SIGTERM);
  return true;
}

}  // namespace autovibe::runner
