#include "worker-agent/runner/task_box.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstring>

#include "common/core/files.h"
#include "worker-agent/box/owner.h"
#include "worker-agent/runner/task_env.h"

namespace autovibe::runner {
namespace {

Result<UniqueFd> DataFd(const char* name, const std::string& content) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot make a memfd for", name);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("cannot write the memfd for", name);
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return IoError("cannot rewind the memfd for", name);
  return fd;
}

std::vector<std::string> SystemPaths(const box::BoxSettings& s) {
  std::vector<std::string> paths(std::begin(box::kSystemPaths), std::end(box::kSystemPaths));
  paths.insert(paths.end(), s.ro_paths.begin(), s.ro_paths.end());
  return paths;
}

// Whether a user with no rights of its own can walk down to `dir` (every directory on the way,
// `dir` included, is o+x); else `blocking` names the first that is not.
bool WalkableByOthers(const std::string& dir, std::string* blocking = nullptr) {
  std::string d = dir;
  for (size_t slash = 0; slash != std::string::npos; slash = d.find('/', slash + 1)) {
    const std::string prefix = slash == 0 ? "/" : d.substr(0, slash);
    struct stat st {};
    if (stat(prefix.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      if (blocking != nullptr) *blocking = prefix;
      return false;
    }
  }
  struct stat st {};
  if (stat(d.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
    if (blocking != nullptr) *blocking = d;
    return false;
  }
  return true;
}

// What the box keeps after its tool is reaped: its uid lease and its cgroup.
struct Hold {
  std::shared_ptr<box::UidPool::Lease> uid;
  std::shared_ptr<box::TaskCgroups> cgroups;
  std::string cgroup_name;
  ~Hold() {
    if (cgroups && !cgroup_name.empty()) cgroups->Remove(cgroup_name);
  }
};

// The task's files become its user's: the workspace (restores and checkpoints write as root)
// and its HOME. Runs on a thread of the TaskBoxes: a workspace can be tens of thousands of
// files.
Result<void> GiveFiles(const std::string& data_dir, const std::string& workspace,
                       const std::string& home, uid_t uid) {
  const gid_t gid = static_cast<gid_t>(uid);
  if (auto r = MakeDirs(data_dir + "/homes", 0700); !r) return r.error();
  if (auto r = box::GiveTree(workspace, uid, gid); !r) return r.error();
  return box::PrepareOwnedDir(home, uid, gid);
}

}  // namespace

TaskBoxes::TaskBoxes(boost::asio::io_context& owner, TaskBoxesOptions options)
    : owner_(owner),
      options_(std::move(options)),
      system_(box::SystemBinds(SystemPaths(options_.settings))),
      uids_(options_.settings.uid_base, 2 * size_t{options_.slots}) {
  // Only a file the box would otherwise reach needs masking (and only one bwrap, run by the
  // task user, can reach to mask).
  std::erase_if(options_.hidden_files, [this](const std::string& f) {
    if (access(f.c_str(), F_OK) != 0 || !WalkableByOthers(f.substr(0, f.rfind('/')))) return true;
    for (const auto& b : system_) {
      if (b.symlink_target.empty() && f.rfind(b.path + "/", 0) == 0) return false;
    }
    return true;
  });
  have_bwrap_ = access(options_.settings.bwrap.c_str(), X_OK) == 0;
  if (!have_bwrap_) {
    spdlog::error(
        "tasks are boxed (task_user = \"per-task\") but {} is missing: every task will "
        "fail until bubblewrap is installed (apt-get install bubblewrap) or the agent's "
        "config sets task_user = \"root\"",
        options_.settings.bwrap);
  }
  if (auto r = MakeDirs(options_.settings.stage_dir, 0755); !r) {
    spdlog::error("cannot make the box stage {}: {}", options_.settings.stage_dir,
                  r.error().message);
  }
  // bwrap, run by the task user, finds what the keeper staged by walking to the stage.
  if (std::string d; !WalkableByOthers(options_.settings.stage_dir, &d)) {
    stage_problem_ = "the box stage " + options_.settings.stage_dir + " lies under " + d +
                     ", which task users cannot walk (mode o-x): set [box] stage_dir elsewhere";
    spdlog::error("{}", stage_problem_);
  }
  std::string why;
  cgroups_ = box::DetectTaskCgroups(options_.settings.cgroup_root, why);
  if (cgroups_) {
    spdlog::info(
        "task limits: per-task cgroups under {} (memory.max={} pids.max={} "
        "cpu.weight={}) and rlimits",
        cgroups_->root(), options_.settings.memory_max_bytes, options_.settings.pids_max,
        options_.settings.cpu_weight);
  } else {
    spdlog::info("task limits: rlimits only, per task user (no per-task cgroup: {})", why);
  }
}

TaskBoxes::~TaskBoxes() {
  files_.stop();
  files_.join();
}

void TaskBoxes::Prepare(const std::string& task_id, const std::string& workspace,
                        uint16_t proxy_port, BoxReady done) {
  auto box = Assemble(task_id, workspace, proxy_port);
  if (!box) {
    boost::asio::post(owner_, [done = std::move(done), e = box.error()] { done(e); });
    return;
  }
  const uid_t uid = box->launch->uid;
  const std::string home = box->home;
  auto ready = std::make_shared<BoxedTask>(std::move(*box));
  boost::asio::post(files_, [&owner = owner_, data_dir = options_.data_dir, workspace, home, uid,
                             ready = std::move(ready), done = std::move(done)]() mutable {
    Result<void> given = GiveFiles(data_dir, workspace, home, uid);
    // Everything that holds the task's uid goes back to the owner thread, which alone may drop
    // it (UidPool): nothing of it stays here.
    boost::asio::post(owner,
                      [given = std::move(given), ready = std::move(ready), done = std::move(done)] {
                        if (!given) return done(given.error());
                        done(std::move(*ready));
                      });
  });
}

Result<BoxedTask> TaskBoxes::Assemble(const std::string& task_id, const std::string& workspace,
                                      uint16_t proxy_port) {
  const box::BoxSettings& s = options_.settings;
  if (!have_bwrap_ && access(s.bwrap.c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kBadTask,
                     "this machine boxes its tasks but has no bubblewrap (" + s.bwrap +
                         "): install it (apt-get install bubblewrap) or set task_user = "
                         "\"root\" in the agent's config (or the pool's) for trusted work");
  }
  have_bwrap_ = true;
  if (!stage_problem_.empty()) return MakeError(ErrorCode::kBadTask, stage_problem_);
  auto lease = uids_.Acquire();
  if (!lease) return lease.error();
  const uid_t uid = (*lease)->uid();
  const gid_t gid = static_cast<gid_t>(uid);
  const std::string home = TaskHomePath(options_.data_dir, task_id);

  auto hold = std::make_shared<Hold>();
  hold->uid = std::move(*lease);
  auto launch = std::make_shared<BoxLaunch>();
  if (cgroups_) {
    auto procs =
        cgroups_->Create(std::to_string(uid), {s.memory_max_bytes, s.pids_max, s.cpu_weight});
    if (!procs) return procs.error();
    hold->cgroups = cgroups_;
    hold->cgroup_name = std::to_string(uid);
    launch->cgroup_procs = *procs;
  }
  auto passwd = DataFd("passwd", box::BoxPasswd(uid, gid, home));
  if (!passwd) return passwd.error();
  auto group = DataFd("group", box::BoxGroup(gid));
  if (!group) return group.error();

  launch->uid = uid;
  launch->gid = gid;
  launch->stage = s.stage_dir;
  box::BwrapBox b;
  auto bind = [&](const std::string& source, const std::string& name) {
    const std::string staged = s.stage_dir + "/" + name;
    launch->binds.emplace_back(source, staged);
    b.binds.push_back({staged, source});
  };
  bind(home, "home");
  for (size_t i = 0; i < s.shared_paths.size(); ++i) {
    bind(s.shared_paths[i], "shared-" + std::to_string(i));
  }
  bind(workspace, "workspace");  // last: it may lie under a shared path
  launch->passwd = std::move(*passwd);
  launch->group = std::move(*group);
  b.bwrap = s.bwrap;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') b.hostname = host;
  b.uid = uid;
  b.gid = gid;
  b.system = system_;
  b.workspace = workspace;
  b.hidden_files = options_.hidden_files;
  b.passwd_fd = launch->passwd.get();
  b.group_fd = launch->group.get();
  launch->bwrap_args = box::BwrapArgs(b);

  BoxedTask out;
  if (s.network == box::TaskNetwork::kProxyOnly) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return IoError("cannot make a socket pair for", "the proxy-only network");
    }
    out.listener_channel = UniqueFd(pair[0]);
    launch->listener_channel = UniqueFd(pair[1]);
    launch->own_network = true;
    launch->proxy_port = proxy_port;
  }
  out.launch = std::move(launch);
  out.hold = std::move(hold);
  out.home = home;
  return out;
}

ResourceLimits TaskBoxes::Limits(ResourceLimits l) const {
  const box::BoxSettings& s = options_.settings;
  if (l.processes == 0) l.processes = s.pids_max;
  if (l.address_space_bytes == 0 && !cgroups_) l.address_space_bytes = s.memory_max_bytes;
  return l;
}

int ReceiveListener(int channel) {
  char byte = 0;
  struct iovec iov {
    &byte, 1
  };
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != 1) return -1;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

void BoxEnvironment(std::map<std::string, std::string>& env, const std::string& home) {
  env["HOME"] = home;
  env["USER"] = box::kTaskUserName;
  env["LOGNAME"] = box::kTaskUserName;
  env["TMPDIR"] = "/tmp";
}

}  // namespace autovibe::runner
