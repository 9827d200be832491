// Workspace checkpoints exported as tar+zstd through the controller (`autovibe checkpoint
// export`, GET /v1/checkpoints/{id}/archive), from a real fleet: a real nats-server, controller
// and two agent processes. What a user extracts with Debian's tar must be the workspace.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/core/run_program.h"
#include "tests/integration/checkpoint_fleet.h"
#include "tests/support/catch_result.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct Shell {
  int exit_code = -1;
  std::string output;
};

// Runs `script` with sh; its output and exit code.
Shell Sh(const std::string& script, std::chrono::milliseconds timeout = 120s) {
  auto out = RunProgram({.argv = {"sh", "-c", script + "; echo \"exit=$?\""}, .timeout = timeout});
  INFO(script);
  REQUIRE(out);
  const auto at = out->rfind("exit=");
  REQUIRE(at != std::string::npos);
  return {std::stoi(out->substr(at + 5)), out->substr(0, at)};
}

// What a user can tell apart in a directory tree, by relative path: kind and permission bits,
// contents, link targets, and the modification second of files.
std::map<std::string, std::string> Shape(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    std::string d = std::to_string(st.st_mode);
    if (S_ISLNK(st.st_mode)) {
      d += " -> " + fs::read_symlink(it->path()).string();
    } else if (S_ISREG(st.st_mode)) {
      d += " mtime=" + std::to_string(st.st_mtim.tv_sec) + " " + ReadAll(it->path());
    }
    out[it->path().lexically_relative(root).string()] = d;
  }
  return out;
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

std::string Cli(const CheckpointFleet& f) {
  return BinPath("autovibe") + " --controller " + f.controller->base_url() + " --token " +
         f.controller->token();
}

std::string Curl(const CheckpointFleet& f, const std::string& path) {
  return "curl -sS -H 'Authorization: Bearer " + f.controller->token() + "' " +
         f.controller->base_url() + path;
}

// The newest checkpoint of the task (its task_end one), once the catalogue has it.
std::string LastCheckpoint(CheckpointFleet& f, const std::string& task) {
  json::array cps;
  REQUIRE(WaitUntil(
      [&] {
        cps = f.CheckpointsOf(task);
        return !cps.empty() && Str(cps.back().at("trigger")) == "task_end";
      },
      20s));
  return Str(cps.back().at("id"));
}

size_t Entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

const std::string kWorkspaceScript =
    "set -e; mkdir -p src/lib empty/dir; printf 'int main(){}\\n' > src/main.c; "
    "printf 'x\\n' > src/lib/deep.h; printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod 755 run.sh; "
    "echo secret > private.txt; chmod 600 private.txt; ln -s src/main.c link; "
    "ln -s /etc/hostname absolute-link; ln -s ../../outside src/escaping-link; "
    "head -c 3000000 /dev/urandom > big.bin; echo '# notes' > 'with space.md'";

}  // namespace

TEST_CASE(
    "a workspace checkpoint exports as tar+zstd through the CLI and HTTP and extracts as the "
    "workspace was",
    "[checkpoint][archive]") {
  CheckpointFleet f({"--checkpoint-replicas", "0"});
  const std::string a = f.Run("agent-1", kWorkspaceScript);
  REQUIRE(f.tasks->WaitState(a, "succeeded", 30s));
  const std::string cp = LastCheckpoint(f, a);
  const fs::path ws = f.Workspace("agent-1", a);

  // The CLI writes a file Debian's tar extracts.
  const fs::path cli_out = f.dir / "cli";
  fs::create_directories(cli_out / "x");
  const std::string file = cli_out / "cp.tar.zst";
  Shell cli = Sh(Cli(f) + " checkpoint export " + cp + " -o " + file);
  INFO(cli.output);
  REQUIRE(cli.exit_code == 0);
  CHECK(cli.output.find("exported to " + file) != std::string::npos);
  Shell tar = Sh("tar --zstd -xf " + file + " -C " + (cli_out / "x").string());
  INFO(tar.output);
  REQUIRE(tar.exit_code == 0);
  CHECK(Shape(cli_out / "x") == Shape(ws));
  CHECK(fs::read_symlink(cli_out / "x/src/escaping-link") == "../../outside");
  CHECK(Sh((cli_out / "x/run.sh").string()).output == "hi\n");
  CHECK(fs::is_directory(cli_out / "x/empty/dir"));
  CHECK(Entries(cli_out) == 2);  // the archive and what it held: nothing half-written beside it

  // -o - writes to standard output.
  const fs::path piped_out = f.dir / "piped";
  fs::create_directories(piped_out);
  Shell piped = Sh(Cli(f) + " checkpoint export " + cp + " -o - | zstd -dc | tar -xf - -C " +
                   piped_out.string());
  INFO(piped.output);
  REQUIRE(piped.exit_code == 0);
  CHECK(Shape(piped_out) == Shape(ws));

  // HTTP streams it, with a file name.
  const fs::path http_out = f.dir / "http";
  fs::create_directories(http_out / "x");
  Shell http = Sh(Curl(f, "/v1/checkpoints/" + cp + "/archive") + " -D " +
                  (http_out / "headers").string() + " -o " + (http_out / "cp.tar.zst").string());
  REQUIRE(http.exit_code == 0);
  const std::string headers = ReadAll(http_out / "headers");
  INFO(headers);
  CHECK(headers.find("HTTP/1.1 200") != std::string::npos);
  CHECK(headers.find("Content-Type: application/zstd") != std::string::npos);
  CHECK(headers.find("Content-Disposition: attachment; filename=\"" + cp + ".tar.zst\"") !=
        std::string::npos);
  REQUIRE(Sh("zstd -dc " + (http_out / "cp.tar.zst").string() + " | tar -xf - -C " +
             (http_out / "x").string())
              .exit_code == 0);
  CHECK(Shape(http_out / "x") == Shape(ws));
  // Every path relative, none leading out.
  Shell listing = Sh("tar --zstd -tf " + (http_out / "cp.tar.zst").string());
  std::istringstream lines(listing.output);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.front() != '/');
    CHECK(line.find("..") == std::string::npos);
  }

  // An unknown checkpoint is not found, and no file is made.
  const fs::path none_out = f.dir / "none";
  fs::create_directories(none_out);
  auto r = f.controller->Call("GET", "/v1/checkpoints/cp-nope/archive");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("no checkpoint cp-nope") != std::string::npos);
  Shell unknown =
      Sh(Cli(f) + " checkpoint export cp-nope -o " + (none_out / "cp.tar.zst").string());
  CHECK(unknown.exit_code == 4);
  CHECK(unknown.output.find("no checkpoint cp-nope") != std::string::npos);
  CHECK(Entries(none_out) == 0);
}

TEST_CASE("a checkpoint whose only holder was killed answers a clear error, and leaves no file",
          "[checkpoint][archive]") {
  CheckpointFleet f(
      {"--checkpoint-replicas", "0", "--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"});
  const std::string b = f.Run("agent-2", "echo only here > notes.txt");
  REQUIRE(f.tasks->WaitState(b, "succeeded", 30s));
  const std::string cp = LastCheckpoint(f, b);
  const fs::path out = f.dir / "out";
  fs::create_directories(out);

  f.agents[1]->Kill();
  // At once (the machine still counts as ready: the bus says nobody answers) and once the
  // controller has marked it lost.
  for (const bool lost : {false, true}) {
    if (lost) {
      REQUIRE(WaitUntil([&] { return f.controller->MachineState("agent-2") == "lost"; }, 15s));
    }
    INFO("lost: " << lost);
    const auto started = std::chrono::steady_clock::now();
    auto r = f.controller->Call("GET", "/v1/checkpoints/" + cp + "/archive");
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 503);
    CHECK(r->body.find("checkpoint " + cp) != std::string::npos);
    CHECK(r->body.find(f.ids["agent-2"]) != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    Shell cli = Sh(Cli(f) + " checkpoint export " + cp + " -o " + (out / "cp.tar.zst").string());
    INFO(cli.output);
    CHECK(cli.exit_code == 1);
    CHECK(cli.output.find("503") != std::string::npos);
    CHECK(Entries(out) == 0);
  }
}

TEST_CASE("a repository task's checkpoint extracts as a working repository",
          "[checkpoint][archive]") {
  TempDir git("av-archive-git");
  const std::string origin = git / "origin.git";
  REQUIRE(Sh("set -e; cd " + git.path() +
             " && git init -q -b main work && cd work && git config user.email dev@example.org "
             "&& git config user.name Dev && echo 'one' > a.txt && git add . && git commit -qm "
             "first && echo two >> a.txt && git commit -qam second && git clone -q --bare . " +
             origin)
              .exit_code == 0);
  std::ofstream(git / "controller.toml") << "repo_local_roots = [\"" << git.path() << "\"]\n";
  CheckpointFleet f({"--checkpoint-replicas", "0", "--config", git / "controller.toml"});
  json::object extra{{"repo", json::object{{"url", origin}}},
                     {"labels", json::object{{"box", "agent-1"}}}};
  const std::string t = f.tasks->SubmitShell(
      "demo",
      {"sh", "-c",
       "set -e; echo three >> a.txt; git -c user.email=t@t -c user.name=t commit -qam third; "
       "echo uncommitted > new.txt"},
      std::move(extra));
  REQUIRE(f.tasks->WaitState(t, "succeeded", 60s));
  const std::string cp = LastCheckpoint(f, t);
  const fs::path x = f.dir / "x";
  fs::create_directories(x);
  Shell exported =
      Sh(Cli(f) + " checkpoint export " + cp + " -o - | tar --zstd -xf - -C " + x.string());
  INFO(exported.output);
  REQUIRE(exported.exit_code == 0);
  Shell log = Sh("cd " + x.string() +
                 " && git log --format=%s && git status --porcelain && "
                 "git fsck --no-progress");
  INFO(log.output);
  REQUIRE(log.exit_code == 0);
  CHECK(log.output.find("third\nsecond\nfirst\n") != std::string::npos);
  CHECK(ReadAll(x / "a.txt") == "one\ntwo\nthree\n");
  // Self-contained: no history borrowed from the agent's mirror.
  CHECK_FALSE(fs::exists(x / ".git/objects/info/alternates"));
}

// Figures, not a check: ./build/bin/integration_tests "[.archive-bench]" -s
TEST_CASE("checkpoint archive export throughput and controller memory", "[.archive-bench]") {
  CheckpointFleet f({"--checkpoint-replicas", "0"});
  // 200 MB: half incompressible, half text.
  const std::string a =
      f.Run("agent-1",
            "set -e; mkdir -p bin text; for i in $(seq 1 50); do head -c 2000000 /dev/urandom > "
            "bin/$i.bin; seq $((i * 1000000)) $((i * 1000000 + 290000)) > text/$i.txt; done");
  REQUIRE(f.tasks->WaitState(a, "succeeded", 300s));
  const std::string cp = LastCheckpoint(f, a);
  const uint64_t bytes =
      f.controller->GetJson("/v1/checkpoints/" + cp).at("bytes").to_number<uint64_t>();
  auto field_of = [&](pid_t pid, const std::string& name) {
    std::istringstream in(ReadAll("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
    }
    return -1L;
  };
  auto field = [&](const std::string& name) {
    return field_of(f.controller->process().pid(), name);
  };
  const pid_t agent = f.agents[0]->process().pid();
  // Twice: the first may meet the bus's reload after the agents joined (a lost reply is asked
  // for again after 15 s).
  for (int run = 1; run <= 2; ++run) {
    const long hwm_before = field("VmHWM");
    const long rss_before = field("VmRSS");
    const auto started = std::chrono::steady_clock::now();
    Shell http =
        Sh(Curl(f, "/v1/checkpoints/" + cp + "/archive") + " -o " + (f.dir / "cp.tar.zst"), 600s);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO(http.output);
    REQUIRE(http.exit_code == 0);
    const long hwm_after = field("VmHWM");
    const uint64_t archive = fs::file_size(f.dir / "cp.tar.zst");
    WARN("run " << run << ": workspace " << bytes / 1e6 << " MB, archive " << archive / 1e6
                << " MB, " << s << " s: " << bytes / 1e6 / s
                << " MB/s of workspace; controller RSS before " << rss_before << " kB, peak before "
                << hwm_before << " kB, peak after " << hwm_after << " kB; agent peak "
                << field_of(agent, "VmHWM") << " kB");
  }
  fs::create_directories(f.dir / "x");
  REQUIRE(Sh("tar --zstd -xf " + (f.dir / "cp.tar.zst") + " -C " + (f.dir / "x")).exit_code == 0);
  CHECK(Shape(f.dir / "x") == Shape(f.Workspace("agent-1", a)));
}
