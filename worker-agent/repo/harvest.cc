// Harvest: the workspace as the tool left it, read into a commit with the agent's own git dir
// (workspace_repo.h says why never the task's), then its diff and bundle.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <functional>

#include "common/core/files.h"
#include "worker-agent/repo/credential.h"
#include "worker-agent/repo/workspace_repo.h"

namespace autovibe::repo {
namespace {

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// "3 files changed, 10 insertions(+), 2 deletions(-)" (any part may be missing).
void ParseShortStat(std::string_view text, v1::RepoResult& r) {
  auto number_before = [&](std::string_view word) -> uint64_t {
    const size_t at = text.find(word);
    if (at == std::string_view::npos) return 0;
    size_t start = at;
    while (start > 0 && text[start - 1] == ' ') --start;
    size_t digits = start;
    while (digits > 0 && text[digits - 1] >= '0' && text[digits - 1] <= '9') --digits;
    uint64_t n = 0;
    std::from_chars(text.data() + digits, text.data() + start, n);
    return n;
  };
  r.set_files_changed(static_cast<uint32_t>(
      std::max(number_before(" file changed"), number_before(" files changed"))));
  r.set_insertions(std::max(number_before(" insertion"), uint64_t{0}));
  r.set_deletions(number_before(" deletion"));
}

// NUL-separated paths from git's -z output.
std::vector<std::string> SplitNul(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Before anything is hashed: every file `git add` would read (new, or changed by its size and
// times) by its size alone. A task can make a terabyte sparse file in an instant; reading it as
// root would take the agent's time and nobody's budget.
Result<void> CheckSizes(const std::function<Result<std::string>(std::vector<std::string>)>& run,
                        const std::string& workspace, const RepoLimits& limits) {
  auto untracked = run({"ls-files", "--others", "--exclude-standard", "-z"});
  if (!untracked) return untracked.error();
  auto changed = run({"-c", "core.trustctime=false", "diff-files", "--name-only", "-z"});
  if (!changed) return changed.error();
  uint64_t total = 0;
  for (const std::string* list : {&*untracked, &*changed}) {
    for (const std::string& path : SplitNul(*list)) {
      struct stat st {};
      if (lstat((workspace + "/" + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const auto size = static_cast<uint64_t>(st.st_size);
      if (size > limits.max_file_bytes) {
        return MakeError(ErrorCode::kTooLarge,
                         "the file " + path.substr(0, 200) + " is " + std::to_string(size) +
                             " bytes, over the agent's limit of " +
                             std::to_string(limits.max_file_bytes) + " per file");
      }
      total += size;
    }
  }
  if (total > limits.max_changed_bytes) {
    return MakeError(ErrorCode::kTooLarge, "the changed files hold " + std::to_string(total) +
                                               " bytes, over the agent's limit of " +
                                               std::to_string(limits.max_changed_bytes));
  }
  return {};
}

// Gitlinks the task made (a `.git` file or directory in a subdirectory) name another
// repository's commit, which git read as root wherever the link pointed: never part of the
// result. Those the base already had stay as they were.
Result<void> DropNewGitlinks(
    const std::function<Result<std::string>(std::vector<std::string>)>& run,
    const std::string& base, v1::RepoResult& r) {
  auto raw = run({"diff-index", "--cached", "--raw", "-z", "--no-renames", base});
  if (!raw) return raw.error();
  // ":<src mode> <dst mode> <src> <dst> <status>\0<path>\0", one per entry.
  const std::vector<std::string> parts = SplitNul(*raw);
  std::string dropped;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    const std::string& head = parts[i];
    if (head.size() < 15 || head.substr(8, 6) != "160000") continue;
    dropped += parts[i + 1] + '\0';
  }
  if (dropped.empty()) return {};
  for (const std::string& path : SplitNul(dropped)) {
    if (auto reset = run({"--literal-pathspecs", "reset", "-q", base, "--", path}); !reset) {
      return reset.error();
    }
    spdlog::warn("left out of the result: {} is a link to another repository (gitlink)", path);
  }
  (void)r;
  return {};
}

Result<void> Commit(const GitEnv& env, const v1::RepoSpec& spec, const std::string& task_id,
                    const std::string& workspace, const std::string& out_dir,
                    const RepoLimits& limits, bool have_index, v1::RepoResult& r) {
  const std::string base = r.base();
  auto run = [&](std::vector<std::string> args, std::string stdout_path = "") {
    return Git(env, {.args = std::move(args), .stdout_path = std::move(stdout_path)});
  };
  // No index of the checkout on this machine (the task came from a checkpoint): from the base.
  if (!have_index) {
    if (auto read = run({"read-tree", base}); !read) return read.error();
  }
  if (auto sizes = CheckSizes(run, workspace, limits); !sizes) return sizes.error();
  // What the tool left, ignored files aside; .git is never read as content.
  if (auto added = run({"-c", "core.trustctime=false", "add", "--all", "--", "."}); !added) {
    return added.error();
  }
  if (auto links = DropNewGitlinks(run, base, r); !links) return links.error();
  auto tree = run({"write-tree"});
  if (!tree) return tree.error();
  auto base_tree = run({"rev-parse", "--verify", base + "^{tree}"});
  if (!base_tree) return base_tree.error();
  if (*tree == *base_tree) {
    r.set_head(base);  // nothing changed
    return {};
  }
  std::string message = spec.message().empty() ? "autovibe: task " + task_id : spec.message();
  auto head = run({"commit-tree", *tree, "-p", base, "-m", message});
  if (!head) return head.error();
  r.set_head(*head);
  if (auto u = run({"update-ref", "refs/heads/" + r.branch(), *head}); !u) return u.error();
  auto stat = run({"diff", "--shortstat", base, *head});
  if (!stat) return stat.error();
  ParseShortStat(*stat, r);
  const std::string diff = out_dir + "/diff";
  if (auto d = run({"diff", "--no-ext-diff", "--no-textconv", "--binary", base, *head}, diff); !d) {
    return d.error();
  }
  r.set_diff_bytes(FileSize(diff));
  if (r.diff_bytes() > limits.max_diff_bytes) {
    return MakeError(ErrorCode::kTooLarge, "the diff is " + std::to_string(r.diff_bytes()) +
                                               " bytes, over the agent's limit of " +
                                               std::to_string(limits.max_diff_bytes));
  }
  const std::string bundle = out_dir + "/bundle";
  if (auto b = run({"bundle", "create", "--quiet", bundle, "refs/heads/" + r.branch(), "^" + base});
      !b) {
    return b.error();
  }
  r.set_bundle_bytes(FileSize(bundle));
  if (r.bundle_bytes() > limits.max_bundle_bytes) {
    return MakeError(ErrorCode::kTooLarge, "the bundle is " + std::to_string(r.bundle_bytes()) +
                                               " bytes, over the agent's limit of " +
                                               std::to_string(limits.max_bundle_bytes));
  }
  return {};
}

}  // namespace

v1::RepoResult Harvest(const RepoPaths& paths, const v1::RepoSpec& spec, const std::string& task_id,
                       const std::string& workspace, const RepoLimits& limits) {
  v1::RepoResult r;
  r.set_branch(TaskBranch(spec, task_id));
  const std::string git_dir = paths.TaskGitDir(task_id);
  auto base = ReadFile(git_dir + "/autovibe-base");
  if (!base) {
    r.set_error("the task's repository was never checked out on this machine");
    return r;
  }
  r.set_base(*base);
  if (auto branch = ReadFile(git_dir + "/autovibe-base-branch")) r.set_base_branch(*branch);
  const std::string out_dir = paths.Result(task_id);
  std::error_code ec;
  std::filesystem::remove_all(out_dir, ec);
  if (auto made = MakeDirs(out_dir, 0700); !made) {
    r.set_error(made.error().message);
    return r;
  }
  const std::string name = spec.author_name().empty() ? "autovibe" : spec.author_name();
  const std::string email =
      spec.author_email().empty() ? "autovibe@localhost" : spec.author_email();
  const std::string index = git_dir + "/index";
  GitEnv env = PlainGitEnv(paths);
  env.vars = {"GIT_DIR=" + git_dir,          "GIT_WORK_TREE=" + workspace,
              "GIT_INDEX_FILE=" + index,     "GIT_AUTHOR_NAME=" + name,
              "GIT_AUTHOR_EMAIL=" + email,   "GIT_COMMITTER_NAME=" + name,
              "GIT_COMMITTER_EMAIL=" + email};
  const bool have_index = FileSize(index) > 0;
  if (auto done = Commit(env, spec, task_id, workspace, out_dir, limits, have_index, r); !done) {
    r.set_error(done.error().message);
    r.set_head("");
    std::filesystem::remove_all(out_dir, ec);
  }
  return r;
}

}  // namespace autovibe::repo

namespace autovibe::repo {

namespace {

// A result made on another machine, whose bundle the controller sent (PutResult): its branch in
// a git dir of this agent's, over this machine's mirror of the repository (fetched first: the
// bundle needs its base).
Result<std::string> AdoptBundle(const RepoPaths& paths, const v1::RepoSpec& spec,
                                const std::string& task_id, const std::string& branch) {
  const std::string bundle = paths.Result(task_id) + "/bundle";
  struct stat st {};
  if (lstat(bundle.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kNotFound, "no result of task " + task_id + " here");
  }
  auto mirror = UpdateMirror(paths, spec, task_id);
  if (!mirror) return mirror.error();
  const std::string git_dir = paths.TaskGitDir(task_id);
  std::error_code ec;
  std::filesystem::remove_all(git_dir, ec);
  if (auto made = MakeDirs(paths.Tasks(), 0700); !made) return made.error();
  const GitEnv env = PlainGitEnv(paths);
  if (auto init = Git(env, {.args = {"init", "--quiet", "--bare", git_dir}}); !init) {
    return init.error();
  }
  if (auto w = WriteFileAtomic(git_dir + "/objects/info/alternates", *mirror + "/objects\n", 0600,
                               false);
      !w) {
    return w.error();
  }
  const std::string ref = "refs/heads/" + branch;
  if (auto f = Git(env, {.args = {"--git-dir=" + git_dir, "fetch", "--quiet", "--", bundle,
                                  ref + ":" + ref}});
      !f) {
    return MakeError(ErrorCode::kRepoUnavailable, "the kept result of task " + task_id +
                                                      " does not apply: " + f.error().message);
  }
  return Git(env, {.args = {"--git-dir=" + git_dir, "rev-parse", "--verify", ref}});
}

}  // namespace

Result<void> PushResult(const RepoPaths& paths, const v1::RepoSpec& spec,
                        const std::string& task_id) {
  const std::string git_dir = paths.TaskGitDir(task_id);
  const std::string branch = TaskBranch(spec, task_id);
  if (auto c = CheckBranchName(branch); !c) return c.error();
  GitEnv plain = PlainGitEnv(paths);
  auto head = Git(plain, {.args = {"--git-dir=" + git_dir, "rev-parse", "--verify", "--quiet",
                                   "refs/heads/" + branch}});
  if (!head) head = AdoptBundle(paths, spec, task_id, branch);
  if (!head) {
    return MakeError(ErrorCode::kNotFound,
                     "no result of task " + task_id + " on this machine to push");
  }
  auto cred = Credential::For(paths, spec, task_id);
  if (!cred) return cred.error();
  auto pushed = Git(cred->env(),
                    {.args = {"--git-dir=" + git_dir, "push", "--quiet", "--no-verify", "--",
                              cred->url().url, "refs/heads/" + branch + ":refs/heads/" + branch}});
  if (!pushed) {
    return MakeError(
        ErrorCode::kRepoUnavailable,
        "cannot push " + branch + " to " + cred->url().url + ": " + pushed.error().message);
  }
  return {};
}

}  // namespace autovibe::repo
