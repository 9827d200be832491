// Harvest: the workspace as the tool left it, read into a commit with the agent's own git dir
// (workspace_repo.h says why never the task's), then its diff and bundle.
#include <sys/stat.h>

#include <charconv>
#include <filesystem>

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

Result<void> Commit(const GitEnv& env, const v1::RepoSpec& spec, const std::string& task_id,
                    const std::string& out_dir, const RepoLimits& limits, bool have_index,
                    v1::RepoResult& r) {
  const std::string base = r.base();
  auto run = [&](std::vector<std::string> args, std::string stdout_path = "") {
    return Git(env, {.args = std::move(args), .stdout_path = std::move(stdout_path)});
  };
  // No index of the checkout on this machine (the task came from a checkpoint): from the base.
  if (!have_index) {
    if (auto read = run({"read-tree", base}); !read) return read.error();
  }
  // What the tool left, ignored files aside; .git is never read as content.
  if (auto added = run({"-c", "core.trustctime=false", "add", "--all", "--", "."}); !added) {
    return added.error();
  }
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
  if (auto done = Commit(env, spec, task_id, out_dir, limits, have_index, r); !done) {
    r.set_error(done.error().message);
    r.set_head("");
    std::filesystem::remove_all(out_dir, ec);
  }
  return r;
}

}  // namespace autovibe::repo

namespace autovibe::repo {

Result<void> PushResult(const RepoPaths& paths, const v1::RepoSpec& spec,
                        const std::string& task_id) {
  const std::string git_dir = paths.TaskGitDir(task_id);
  const std::string branch = TaskBranch(spec, task_id);
  if (auto c = CheckBranchName(branch); !c) return c.error();
  GitEnv plain = PlainGitEnv(paths);
  auto head = Git(plain, {.args = {"--git-dir=" + git_dir, "rev-parse", "--verify", "--quiet",
                                   "refs/heads/" + branch}});
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
