// CheckOut: a task's workspace from the mirror, and the agent's own git dir for the task.
#include <sys/stat.h>

#include <filesystem>

#include "common/core/files.h"
#include "common/core/repo_url.h"
#include "worker-agent/repo/credential.h"
#include "worker-agent/repo/spare.h"
#include "worker-agent/repo/workspace_repo.h"

namespace autovibe::repo {
namespace {

// Inside the workspace's .git: which commit the task started from, for a machine that
// continues the task from a checkpoint and never made the task's git dir.
constexpr const char* kBaseFile = "/.git/autovibe-base";

bool IsCommitId(std::string_view s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The base a checkpointed workspace names, when it is a commit of the mirror. The file is the
// task's to change: read as data (no link followed, 64 bytes at most) and checked.
std::string RecordedBase(const GitEnv& env, const std::string& git_dir,
                         const std::string& workspace) {
  struct stat st {};
  const std::string file = workspace + kBaseFile;
  if (lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 64) return "";
  auto text = ReadFile(file);
  if (!text) return "";
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (!IsCommitId(id)) return "";
  auto ok = Git(env, {.args = {"--git-dir=" + git_dir, "cat-file", "-e", id + "^{commit}"}});
  return ok ? id : "";
}

}  // namespace

std::string TaskBranch(const v1::RepoSpec& spec, const std::string& task_id) {
  return spec.branch().empty() ? "autovibe/" + task_id : spec.branch();
}

Result<std::string> CheckOut(const RepoPaths& paths, const v1::RepoSpec& spec,
                             const std::string& task_id, const std::string& mirror,
                             const std::string& workspace, bool seeded) {
  const GitEnv env = PlainGitEnv(paths);
  const std::string ref = spec.ref().empty() ? "HEAD" : spec.ref();
  if (!spec.ref().empty()) {
    if (auto r = CheckRepoRef(spec.ref()); !r) return r.error();
  }
  const std::string branch = TaskBranch(spec, task_id);
  if (auto r = CheckBranchName(branch); !r) return r.error();
  const std::string git_dir = paths.TaskGitDir(task_id);
  if (auto made = MakeDirs(paths.Tasks(), 0700); !made) return made.error();
  std::error_code ec;
  if (seeded && std::filesystem::exists(git_dir + "/autovibe-base", ec)) {
    auto base = ReadFile(git_dir + "/autovibe-base");
    if (base && IsCommitId(*base)) return *base;
  }
  std::filesystem::remove_all(git_dir, ec);
  auto made = Git(env, {.args = {"init", "--quiet", "--bare", git_dir}});
  if (!made) return made.error();
  if (auto w =
          WriteFileAtomic(git_dir + "/objects/info/alternates", mirror + "/objects\n", 0600, false);
      !w) {
    return w.error();
  }
  std::string base = seeded ? RecordedBase(env, git_dir, workspace) : "";
  if (base.empty()) {
    auto resolved = Git(env, {.args = {"--git-dir=" + mirror, "rev-parse", "--verify", "--quiet",
                                       "--end-of-options", ref + "^{commit}"}});
    if (!resolved || !IsCommitId(*resolved)) {
      return MakeError(ErrorCode::kRepoUnavailable,
                       "no commit \"" + ref.substr(0, 80) + "\" in " + spec.url().substr(0, 200));
    }
    base = *resolved;
  }
  if (auto w = WriteFileAtomic(git_dir + "/autovibe-base", base, 0600, false); !w) return w.error();
  // The branch the change is to be merged into: the ref when it names a branch of the
  // repository, else its default branch (for a pull request).
  std::string base_branch;
  if (spec.ref().empty()) {
    auto head = Git(env, {.args = {"--git-dir=" + mirror, "symbolic-ref", "--quiet", "HEAD"}});
    if (head && head->starts_with("refs/heads/")) base_branch = head->substr(11);
  } else if (Git(env, {.args = {"--git-dir=" + mirror, "show-ref", "--verify", "--quiet",
                                "refs/heads/" + spec.ref()}})) {
    base_branch = spec.ref();
  }
  (void)WriteFileAtomic(git_dir + "/autovibe-base-branch", base_branch, 0600, false);
  if (seeded) return base;

  // The workspace: its history hard-linked from the mirror, the task's branch at the base.
  // The mirror's spare checkout, made ahead (spare.h), spares writing every file now; with
  // none, a clone of the mirror whose files the checkout below writes.
  std::filesystem::remove(workspace, ec);  // an empty directory made earlier; else clone refuses
  const std::string ws_git = "--git-dir=" + workspace + "/.git";
  std::optional<std::string> spare = ClaimSpare(paths, mirror, workspace);
  if (spare && *spare != base &&
      !Git(env, {.args = {ws_git, "cat-file", "-e", base + "^{commit}"}})) {
    Trash(paths, workspace);  // a commit the mirror's refs do not reach
    spare.reset();
  }
  if (!spare) {
    auto cloned = Git(
        env, {.args = {"clone", "--quiet", "--local", "--no-checkout", "--", mirror, workspace}});
    if (!cloned) return cloned.error();
  }
  std::vector<std::vector<std::string>> steps = {
      {ws_git, "remote", "set-url", "origin", spec.url()}};
  if (spare && *spare == base) {
    // The files, the index and HEAD are at the base already: only the branch is new.
    steps.push_back(
        {ws_git, "update-ref", "-m", "branch: Created from " + base, "refs/heads/" + branch, base});
    steps.push_back({ws_git, "symbolic-ref", "-m",
                     "checkout: moving from " + base + " to " + branch, "HEAD",
                     "refs/heads/" + branch});
  } else {
    // Writes every file after a clone; after a spare at another commit, those that differ.
    steps.push_back({ws_git, "--work-tree=" + workspace, "-c", "checkout.workers=0", "checkout",
                     "--quiet", "-B", branch, base});
  }
  for (const auto& args : steps) {
    if (auto r = Git(env, {.args = args, .cwd = workspace}); !r) return r.error();
  }
  if (auto w = WriteFileAtomic(workspace + kBaseFile, base + "\n", 0644, false); !w) {
    return w.error();
  }
  // The agent's index starts as the checkout's, so reading the result later re-reads only the
  // files that changed.
  std::filesystem::copy_file(workspace + "/.git/index", git_dir + "/index",
                             std::filesystem::copy_options::overwrite_existing, ec);
  return base;
}

void RemoveTaskRepo(const RepoPaths& paths, const std::string& task_id) {
  std::error_code ec;
  std::filesystem::remove_all(paths.TaskGitDir(task_id), ec);
  std::filesystem::remove_all(paths.Result(task_id), ec);
}

}  // namespace autovibe::repo
