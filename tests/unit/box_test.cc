// Boxing a task on this host: task users, handing over its files, cgroups against a fake
// cgroup tree, and real boxed tools (bubblewrap, run as root here).
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "worker-agent/box/cgroups.h"
#include "worker-agent/box/owner.h"
#include "worker-agent/box/process_uids.h"
#include "worker-agent/box/uid_pool.h"
#include "worker-agent/runner/task_box.h"
#include "worker-agent/runner/task_env.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::RunUntil;
using testing::TempDir;
using testing::WaitUntil;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

uid_t OwnerOf(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_uid;
}

// TaskBoxes::Prepare's answer, running `ioc` (the boxes' owner thread) until it comes.
Result<runner::BoxedTask> PrepareNow(runner::TaskBoxes& boxes, boost::asio::io_context& ioc,
                                     const std::string& task_id, const std::string& ws) {
  auto answer = std::make_shared<std::optional<Result<runner::BoxedTask>>>();
  boxes.Prepare(task_id, ws, 0, [answer](Result<runner::BoxedTask> r) { *answer = std::move(r); });
  if (!RunUntil(
          ioc, [&] { return answer->has_value(); }, 20s)) {
    return MakeError(ErrorCode::kTimeout, "no answer from TaskBoxes::Prepare");
  }
  return std::move(**answer);
}

// Runs one tool (boxed when `boxes` is given, whose owner must be `ioc`) to its end; returns
// stdout + stderr.
struct BoxedRun {
  boost::asio::io_context ioc;
  std::string out;
  std::optional<ToolExit> exit;

  Result<void> Run(runner::TaskBoxes* boxes, const std::string& task_id, const std::string& ws,
                   std::vector<std::string> argv) {
    ToolProcessOptions o;
    o.argv = std::move(argv);
    o.env = {{"PATH", "/usr/bin:/bin"}};
    o.cwd = ws;
    if (boxes != nullptr) {
      auto boxed = PrepareNow(*boxes, ioc, task_id, ws);
      if (!boxed) return boxed.error();
      runner::BoxEnvironment(o.env, boxed->home);
      o.limits = boxes->Limits(o.limits);
      o.box = boxed->launch;
      o.keep_until_reaped = boxed->hold;
    }
    auto p = StartToolProcess(
        ioc, std::move(o), [this](OutputStream, std::string_view d) { out.append(d); },
        [this](const ToolExit& e) { exit = e; });
    if (!p) return p.error();
    RunUntil(
        ioc, [&] { return exit.has_value(); }, 20s);
    return {};
  }
};

runner::TaskBoxesOptions BoxOptions(const std::string& data_dir, uint32_t uid_base) {
  runner::TaskBoxesOptions o;
  o.data_dir = data_dir;
  o.slots = 2;
  o.settings.uid_base = uid_base;
  return o;
}

}  // namespace

TEST_CASE("task users: one per running task, lent again once its lease is dropped") {
  box::UidPool pool(61000, 2, [](uid_t, size_t) { return std::vector<uid_t>{}; });
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a);
  REQUIRE(b);
  CHECK((*a)->uid() == 61000);
  CHECK((*b)->uid() == 61001);
  auto c = pool.Acquire();
  REQUIRE_FALSE(c);
  CHECK(c.error().code == ErrorCode::kBusy);
  a->reset();
  auto d = pool.Acquire();
  REQUIRE(d);
  CHECK((*d)->uid() == 61000);
  CHECK(pool.in_use() == 2);
}

TEST_CASE(
    "a task user that still owns a process (a task of an earlier run of the agent) is not lent "
    "until that process is gone") {
  if (geteuid() != 0) {
    WARN("needs root");
    return;
  }
  constexpr uid_t kBase = 61950;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Raw system calls, as the keeper makes them: glibc's would wait for this test's threads.
    if (syscall(SYS_setresgid, kBase, kBase, kBase) == 0 &&
        syscall(SYS_setresuid, kBase, kBase, kBase) == 0) {
      pause();
    }
    _exit(1);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0 && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
    }
  } reap{child};
  REQUIRE(
      WaitUntil([&] { return box::UidsWithProcesses(kBase, 2) == std::vector<uid_t>{kBase}; }, 5s));

  box::UidPool pool(kBase, 2);  // as an agent starting again would
  CHECK(pool.held_by_others() == 1);
  auto a = pool.Acquire();
  REQUIRE(a);
  CHECK((*a)->uid() == kBase + 1);
  auto b = pool.Acquire();  // looks again, finds it still there
  REQUIRE_FALSE(b);
  CHECK(b.error().code == ErrorCode::kBusy);
  CHECK_THAT(b.error().message, Catch::Contains("1 still owning processes"));

  kill(child, SIGKILL);
  REQUIRE(waitpid(child, nullptr, 0) == child);
  reap.pid = 0;
  auto c = pool.Acquire();  // looks again: gone
  REQUIRE(c);
  CHECK((*c)->uid() == kBase);
  CHECK(pool.held_by_others() == 0);
}

TEST_CASE("the uid pool looks for processes again only when it has nothing else to lend") {
  int looks = 0;
  std::vector<uid_t> live = {61201};
  box::UidPool pool(61200, 3, [&](uid_t first, size_t count) {
    ++looks;
    CHECK(first == 61200);
    CHECK(count == 3);
    return live;
  });
  CHECK(looks == 1);
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a);
  REQUIRE(b);
  CHECK((*a)->uid() == 61200);
  CHECK((*b)->uid() == 61202);
  CHECK(looks == 1);
  live.clear();
  a->reset();
  auto c = pool.Acquire();  // 61200 is free again: no need to look
  REQUIRE(c);
  CHECK((*c)->uid() == 61200);
  CHECK(looks == 1);
  auto d = pool.Acquire();  // only the held one is left: looked at again, it is free
  REQUIRE(d);
  CHECK((*d)->uid() == 61201);
  CHECK(looks == 2);
}

TEST_CASE(
    "a workspace is handed to its task user whole, however deep, without following a "
    "symlink") {
  TempDir dir("av-box-owner");
  const std::string ws = dir / "ws";
  const std::string outside = dir / "outside";
  fs::create_directories(ws + "/a/b");
  Write(ws + "/a/b/file", "x");
  Write(outside, "root's");
  fs::create_symlink(outside, ws + "/a/link-out");
  fs::create_directory_symlink(dir.path(), ws + "/a/dir-link");
  // Deeper than any recursion would like.
  std::string deep = ws + "/deep";
  fs::create_directory(deep);
  for (int i = 0; i < 2000; ++i) {
    deep += "/d";
    REQUIRE(mkdir(deep.c_str(), 0755) == 0);
  }
  Write(deep + "/bottom", "y");

  REQUIRE(box::GiveTree(ws, 61005, 61005));
  CHECK(OwnerOf(ws) == 61005);
  CHECK((fs::status(ws).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(OwnerOf(ws + "/a/b/file") == 61005);
  CHECK(OwnerOf(deep + "/bottom") == 61005);
  CHECK(OwnerOf(ws + "/a/link-out") == 61005);  // the link itself
  CHECK(OwnerOf(outside) == 0);                 // not what it points at
  CHECK(OwnerOf(dir.path()) == 0);
  CHECK(box::GiveTree(dir / "missing", 61005, 61005).error().code == ErrorCode::kIo);
}

TEST_CASE("per-task cgroups: a delegated cgroup v2 tree gets its controllers and limits") {
  TempDir dir("av-box-cgroup");
  const std::string root = dir.path();
  Write(root + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  Write(root + "/cgroup.subtree_control", "");
  Write(root + "/cgroup.procs", "1\n");

  auto cg = box::TaskCgroups::Open(root, 4242);
  REQUIRE(cg);
  // The agent moved into a leaf of its own, then the controllers were handed down.
  CHECK(Slurp(root + "/agent/cgroup.procs") == "4242");
  CHECK(Slurp(root + "/cgroup.subtree_control") == "+memory +pids +cpu");

  auto procs = (*cg)->Create("61000", {512u << 20, 100, 50});
  REQUIRE(procs);
  CHECK(*procs == root + "/task-61000/cgroup.procs");
  CHECK(Slurp(root + "/task-61000/memory.max") == std::to_string(512u << 20));
  CHECK(Slurp(root + "/task-61000/pids.max") == "100");
  CHECK(Slurp(root + "/task-61000/cpu.weight") == "50");
  auto unlimited = (*cg)->Create("61001", {});
  REQUIRE(unlimited);
  CHECK(Slurp(root + "/task-61001/memory.max") == "max");

  SECTION("a tree without the controllers is refused, and says which it has") {
    TempDir bare("av-box-cgroup-bare");
    Write(bare / "cgroup.controllers", "cpuset io\n");
    Write(bare / "cgroup.subtree_control", "");
    auto r = box::TaskCgroups::Open(bare.path(), 4242);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kUnsupported);
    CHECK_THAT(r.error().message, Catch::Contains("not all of memory, pids and cpu"));
  }
}

TEST_CASE("the agent's own cgroup v2 directory is read from /proc") {
  const std::string mountinfo =
      "30 22 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
      "35 22 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n";
  CHECK(box::OwnCgroupDir("4:memory:/x\n0::/\n", mountinfo) == "/sys/fs/cgroup/unified");
  CHECK(box::OwnCgroupDir("0::/system.slice/av.service\n", mountinfo) ==
        "/sys/fs/cgroup/unified/system.slice/av.service");
  CHECK(box::OwnCgroupDir("4:memory:/x\n", mountinfo).empty());
  CHECK(box::OwnCgroupDir("0::/\n", "30 22 0:26 / /sys/fs/cgroup rw - cgroup cgroup rw\n").empty());
}

TEST_CASE("a secret leaves the environment") {
  setenv("AV_BOX_TEST_SECRET", "sk-secret", 1);
  CHECK(TakeSecretEnv("AV_BOX_TEST_SECRET") == "sk-secret");
  CHECK(getenv("AV_BOX_TEST_SECRET") == nullptr);
  CHECK(TakeSecretEnv("AV_BOX_TEST_SECRET").empty());
}

TEST_CASE(
    "a boxed tool runs as its own user, in its own namespaces, and sees none of the host's "
    "files but its own",
    "[box]") {
  if (geteuid() != 0 || access("/usr/bin/bwrap", X_OK) != 0) {
    WARN("needs root and bubblewrap");
    return;
  }
  TempDir dir("av-box-run");
  const std::string data = dir / "data";
  fs::create_directories(data + "/workspaces/t-1");
  Write(data + "/secret.toml", "nats_password = \"hunter2\"\n");
  Write(dir / "host-file", "host");
  BoxedRun run;
  runner::TaskBoxes boxes(run.ioc, BoxOptions(data, 61100));
  const std::string ws = data + "/workspaces/t-1";
  Write(ws + "/restored-by-root", "r");

  REQUIRE(run.Run(&boxes, "t-1", ws,
                  {"sh", "-c",
                   "id -u; id -un; echo HOME=$HOME; echo pid=$$; ls /proc | grep -c '^[0-9]'; "
                   "cat " +
                       data + "/secret.toml 2>&1 | head -n 1; cat " + dir / "host-file" +
                       " 2>&1 | head -n 1; echo mine > own-file; echo $? ; "
                       "echo more >> restored-by-root && echo appended; touch $HOME/h && "
                       "echo home-ok; hostname"}));
  REQUIRE(run.exit);
  INFO(run.out);
  CHECK(run.exit->exit_code == 0);
  std::istringstream lines(run.out);
  std::vector<std::string> l;
  for (std::string s; std::getline(lines, s);) l.push_back(s);
  REQUIRE(l.size() >= 10);
  CHECK(l[0] == "61100");
  CHECK(l[1] == "autovibe-task");
  CHECK(l[2] == "HOME=" + data + "/homes/t-1");
  CHECK(l[3] == "pid=2");                             // its own PID namespace (bwrap's init is 1)
  CHECK(std::stoi(l[4]) <= 4);                        // init, sh, ls, grep: no process of the host
  CHECK_THAT(l[5], Catch::Contains("No such file"));  // the data dir is not in the box
  CHECK_THAT(l[6], Catch::Contains("No such file"));  // nor the rest of the host's /tmp
  CHECK(l[7] == "0");
  CHECK(l[8] == "appended");
  CHECK(l[9] == "home-ok");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  CHECK(l[10] == host);  // the machine's name, in a UTS namespace of its own
  CHECK(OwnerOf(ws + "/own-file") == 61100);
  CHECK(Slurp(ws + "/restored-by-root") == "rmore\n");
  // Its uid is back once the tool is reaped.
  CHECK(WaitUntil(
      [&] {
        auto again = PrepareNow(boxes, run.ioc, "t-2", ws);
        return again && again->launch->uid == 61100;
      },
      5s));
}

TEST_CASE(
    "a boxed fork bomb ends only itself, and without bubblewrap a boxed task says what to "
    "do",
    "[box]") {
  if (geteuid() != 0 || access("/usr/bin/bwrap", X_OK) != 0) {
    WARN("needs root and bubblewrap");
    return;
  }
  TempDir dir("av-box-bomb");
  const std::string data = dir / "data";
  const std::string ws = data + "/workspaces/t-1";
  fs::create_directories(ws);
  auto options = BoxOptions(data, 61110);
  options.settings.pids_max = 64;
  BoxedRun run;
  runner::TaskBoxes boxes(run.ioc, options);
  REQUIRE(run.Run(&boxes, "t-1", ws,
                  {"python3", "-c",
                   "import os, signal, time\n"
                   "kids = []\n"
                   "for i in range(200):\n"
                   "    try:\n"
                   "        pid = os.fork()\n"
                   "    except OSError as e:\n"
                   "        print('refused:', e.strerror); break\n"
                   "    if pid == 0:\n"
                   "        time.sleep(5); os._exit(0)\n"
                   "    kids.append(pid)\n"
                   "print('forked', len(kids))\n"
                   "for k in kids: os.kill(k, signal.SIGKILL)\n"}));
  REQUIRE(run.exit);
  INFO(run.out);
  CHECK_THAT(run.out, Catch::Contains("refused: Resource temporarily unavailable"));
  REQUIRE(run.out.find("forked ") != std::string::npos);
  CHECK(std::stoi(run.out.substr(run.out.find("forked ") + 7)) < 64);

  auto missing = BoxOptions(data, 61120);
  missing.settings.bwrap = "/no/such/bwrap";
  runner::TaskBoxes without(run.ioc, missing);
  auto r = PrepareNow(without, run.ioc, "t-3", ws);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kBadTask);
  CHECK_THAT(r.error().message, Catch::Contains("install it (apt-get install bubblewrap)") &&
                                    Catch::Contains("task_user = \"root\""));
}

}  // namespace autovibe
