// checkpoint_bench: the agent's workspace checkpoints against the tools a user would reach for
// instead, on a real source tree nobody here wrote (default: the Boost headers, about 15,000
// files), all in the same run:
//   - first checkpoint vs `tar -cf - . | zstd -1` and vs `git add -A && git commit`, `restic
//     backup`;
//   - incremental checkpoint after changing 10 files vs git's and restic's incremental;
//   - restore into a new directory vs `zstd -dc | tar -x`;
//   - store size vs git's object store and the tar.zst archive.
// The checkpoint store runs in this process, as in the agent (which keeps it open); the
// others are the real commands. Page cache warm for all. Medians of --runs.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/core/log.h"
#include "tests/bench/bench_output.h"
#include "tests/support/process.h"
#include "worker-agent/snapshot/checkpoint_store.h"

namespace autovibe::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string source = "/usr/include/boost";
  int runs = 3;
  int changed_files = 10;
  bool sync = true;  // checkpoints made durable (fdatasync) as the agent does by default
};

// Writes back what earlier steps left dirty, so no step pays for another's writes.
void Settle() { ::sync(); }

// This process's CPU time so far, all threads, user and system.
double CpuMs() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Runs a shell command; its time in milliseconds. Exits the bench if it fails.
double Timed(const std::string& command) {
  auto t = Clock::now();
  int rc = std::system(command.c_str());
  double ms = MsSince(t);
  if (rc != 0) {
    Progress("command failed ({}): {}", rc, command);
    std::exit(1);
  }
  return ms;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

uint64_t DiskBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  for (auto it = fs::recursive_directory_iterator(path, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// `n` regular files spread over the tree, the same ones every run.
std::vector<std::string> PickFiles(const std::string& root, int n) {
  std::vector<std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && !e.is_symlink()) all.push_back(e.path());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (int i = 0; i < n && !all.empty(); ++i)
    out.push_back(all[all.size() * (2 * i + 1) / (2 * n)]);
  return out;
}

void Change(const std::vector<std::string>& files, int run) {
  for (const auto& f : files) {
    std::ofstream out(f, std::ios::app);
    out << "// changed by checkpoint_bench, run " << run << "\n";
  }
}

struct Figures {
  std::vector<double> first, first_cpu, incremental, restore, store;
  std::vector<double> git_first, git_incremental, git_store, git_packed;
  std::vector<double> restic_first, restic_incremental, restic_store;
  std::vector<double> tar_first, tar_restore, tar_store;
  uint64_t files = 0, bytes = 0, files_read_incremental = 0;
};

void OneRun(const Options& o, const std::string& ws, const std::vector<std::string>& changed,
            int run, Figures& fig) {
  testing::TempDir tmp("av-bench-cp");
  // autovibe: first checkpoint into a fresh store.
  snapshot::CheckpointOptions options;
  options.store.sync = o.sync;
  auto store = snapshot::CheckpointStore::Open(tmp / "store", options);
  if (!store) {
    Progress("cannot open the store: {}", store.error().message);
    std::exit(1);
  }
  Settle();
  double cpu = CpuMs();
  auto t = Clock::now();
  auto first = (*store)->Create({.workspace = ws});
  fig.first.push_back(MsSince(t));
  fig.first_cpu.push_back(CpuMs() - cpu);
  if (!first) {
    Progress("checkpoint failed: {}", first.error().message);
    std::exit(1);
  }
  fig.files = first->manifest.file_count();
  fig.bytes = first->manifest.total_bytes();

  // The references, first time.
  const std::string git = "git --git-dir=" + Quote(tmp / "git") + " --work-tree=" + Quote(ws);
  Timed(git + " init -q && " + git + " config user.email b@x && " + git +
        " config user.name b && " + git +
        " config gc.auto 0");  // no packing in the background behind the other figures
  Settle();
  fig.git_first.push_back(Timed(git + " add -A && " + git + " commit -q -m first"));
  const std::string restic = "RESTIC_PASSWORD=bench restic -q -r " + Quote(tmp / "restic");
  Timed(restic + " init >/dev/null");
  Settle();
  fig.restic_first.push_back(Timed("cd " + Quote(ws) + " && " + restic + " backup . >/dev/null"));
  Settle();
  fig.tar_first.push_back(
      Timed("tar -C " + Quote(ws) + " -cf - . | zstd -1 -q -o " + Quote(tmp / "ws.tar.zst")));

  // Ten files change; each takes its incremental.
  Change(changed, run);
  Settle();
  t = Clock::now();
  auto second = (*store)->Create({.workspace = ws});
  fig.incremental.push_back(MsSince(t));
  if (!second) {
    Progress("checkpoint failed: {}", second.error().message);
    std::exit(1);
  }
  fig.files_read_incremental = second->files_read;
  // Fast is worth nothing if wrong: the incremental read exactly the changed files, and a
  // store that never saw the workspace walks it all to the same root.
  {
    auto fresh = snapshot::CheckpointStore::Open(tmp / "fresh", options);
    auto full =
        fresh ? (*fresh)->Create({.workspace = ws}) : Result<snapshot::CreateResult>(fresh.error());
    if (!full || full->manifest.root() != second->manifest.root() ||
        second->files_read != changed.size()) {
      Progress("the incremental checkpoint differs from a full walk (read {} files)",
               second->files_read);
      std::exit(1);
    }
  }
  Settle();
  fig.git_incremental.push_back(Timed(git + " add -A && " + git + " commit -q -m second"));
  Settle();
  fig.restic_incremental.push_back(
      Timed("cd " + Quote(ws) + " && " + restic + " backup . >/dev/null"));

  // Restore into a new directory, vs extracting the archive into one: three of each,
  // alternating, each tree removed (and the removal written back) before the next, so the file
  // system's own housekeeping falls on both alike.
  std::vector<double> ours, theirs;
  for (int k = 0; k < 3; ++k) {
    Settle();
    t = Clock::now();
    auto restored = (*store)->Restore(second->manifest.id(), tmp / "restored", false);
    ours.push_back(MsSince(t));
    if (!restored) {
      Progress("restore failed: {}", restored.error().message);
      std::exit(1);
    }
    fs::create_directories(tmp / "extracted");
    Settle();
    theirs.push_back(Timed("zstd -dc -q " + Quote(tmp / "ws.tar.zst") + " | tar -C " +
                           Quote(tmp / "extracted") + " -xf -"));
    fs::remove_all(tmp / "restored");
    fs::remove_all(tmp / "extracted");
  }
  fig.restore.push_back(Median(ours));
  fig.tar_restore.push_back(Median(theirs));

  // Sizes after the two snapshots (the archive holds one).
  fig.store.push_back(static_cast<double>((*store)->chunks().disk_bytes()));
  // Git's objects as the commits left them (loose), and once packed by `git gc`, which git
  // starts by itself past 6,700 loose objects (in the background: here in the foreground).
  fig.git_store.push_back(static_cast<double>(DiskBytes(tmp / "git/objects")));
  Timed(git + " gc -q");
  fig.git_packed.push_back(static_cast<double>(DiskBytes(tmp / "git/objects")));
  fig.restic_store.push_back(static_cast<double>(DiskBytes(tmp / "restic")));
  fig.tar_store.push_back(static_cast<double>(DiskBytes(tmp / "ws.tar.zst")));
  Progress(
      "run {}: first {:.0f} ms, cpu {:.0f} ms (tar|zstd {:.0f}, git {:.0f}, restic {:.0f}); "
      "incremental {:.1f} "
      "ms (git {:.0f}, restic {:.0f}); restore {:.0f} ms (tar {:.0f}); store {:.1f} MB (git "
      "{:.1f}, "
      "git packed {:.1f}, tar.zst {:.1f}, restic {:.1f})",
      run, fig.first.back(), fig.first_cpu.back(), fig.tar_first.back(), fig.git_first.back(),
      fig.restic_first.back(), fig.incremental.back(), fig.git_incremental.back(),
      fig.restic_incremental.back(), fig.restore.back(), fig.tar_restore.back(),
      fig.store.back() / 1e6, fig.git_store.back() / 1e6, fig.git_packed.back() / 1e6,
      fig.tar_store.back() / 1e6, fig.restic_store.back() / 1e6);
}

int Run(const Options& o) {
  if (!fs::is_directory(o.source)) {
    Progress("no source tree at {}", o.source);
    return 1;
  }
  for (const char* tool : {"git", "restic", "zstd", "tar"}) {
    if (std::system(("command -v " + std::string(tool) + " >/dev/null").c_str()) != 0) {
      Progress("{} is missing: run scripts/install-deps.sh", tool);
      return 1;
    }
  }
  testing::TempDir work("av-bench-cp-ws");
  const std::string ws = work / "ws";
  Progress("copying {} into a workspace", o.source);
  Timed("cp -a " + Quote(o.source) + " " + Quote(ws));
  auto changed = PickFiles(ws, o.changed_files);
  Figures fig;
  for (int run = 1; run <= o.runs; ++run) OneRun(o, ws, changed, run, fig);

  double first = Median(fig.first), incremental = Median(fig.incremental);
  double restore = Median(fig.restore), store = Median(fig.store);
  double tar_first = Median(fig.tar_first), tar_restore = Median(fig.tar_restore);
  double tar_store = Median(fig.tar_store), git_store = Median(fig.git_store);
  double git_inc = Median(fig.git_incremental), restic_inc = Median(fig.restic_incremental);
  bool met = git_inc / incremental >= 10 && restic_inc / incremental >= 50 && first <= tar_first &&
             restore <= tar_restore && store <= git_store && store <= 1.3 * tar_store;
  JsonLine()
      .Str("bench", "checkpoint")
      .Str("source", o.source)
      .Int("files", static_cast<int64_t>(fig.files))
      .Int("bytes", static_cast<int64_t>(fig.bytes))
      .Int("runs", o.runs)
      .Int("changed_files", o.changed_files)
      .Bool("sync", o.sync)
      .Num("first_ms", first, 1)
      .Num("first_cpu_ms", Median(fig.first_cpu), 1)
      .Num("tar_zstd_first_ms", tar_first, 1)
      .Num("git_first_ms", Median(fig.git_first), 1)
      .Num("restic_first_ms", Median(fig.restic_first), 1)
      .Num("incremental_ms", incremental, 2)
      .Int("incremental_files_read", static_cast<int64_t>(fig.files_read_incremental))
      .Num("git_incremental_ms", git_inc, 1)
      .Num("restic_incremental_ms", restic_inc, 1)
      .Num("incremental_vs_git_x", git_inc / incremental, 1)
      .Num("incremental_vs_restic_x", restic_inc / incremental, 1)
      .Num("restore_ms", restore, 1)
      .Num("tar_zstd_extract_ms", tar_restore, 1)
      .Int("store_bytes", static_cast<int64_t>(store))
      .Int("git_objects_bytes", static_cast<int64_t>(git_store))
      .Int("git_packed_bytes", static_cast<int64_t>(Median(fig.git_packed)))
      .Int("tar_zstd_bytes", static_cast<int64_t>(tar_store))
      .Int("restic_repo_bytes", static_cast<int64_t>(Median(fig.restic_store)))
      .Num("store_vs_tar_zstd_x", store / tar_store, 2)
      .Num("target_incremental_vs_git_x", 10, 0)
      .Num("target_incremental_vs_restic_x", 50, 0)
      .Num("target_store_vs_tar_zstd_x", 1.3, 1)
      .Bool("target_met", met)
      .Print();
  return met ? 0 : 1;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options o;
  CLI::App app{"checkpoint_bench: workspace checkpoints vs git, tar|zstd and restic"};
  app.add_option("--source", o.source, "the source tree copied into the workspace");
  app.add_option("--runs", o.runs, "runs (median reported)");
  app.add_option("--changed-files", o.changed_files, "files changed before the incremental");
  app.add_option("--sync", o.sync, "make each checkpoint durable (fdatasync), as by default");
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("checkpoint_bench", "warn");
  return autovibe::bench::Run(o);
}
