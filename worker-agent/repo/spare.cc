// MakeSpare and ClaimSpare: a checkout made ahead of the next task on a repository.
#include "worker-agent/repo/spare.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "common/core/files.h"
#include "common/core/ids.h"
#include "worker-agent/repo/credential.h"
#include "worker-agent/repo/mirror_lock.h"

namespace autovibe::repo {
namespace {

namespace fs = std::filesystem;

// Inside the spare's .git: the commit checked out (a line), then the mirror's state when the
// spare was cloned from it.
constexpr const char* kStateFile = "/.git/autovibe-spare";

// What a clone of the mirror copies: where its HEAD points (the first line), then its refs.
// Empty when it cannot be read.
std::string MirrorState(const GitEnv& env, const std::string& mirror) {
  auto head = ReadFile(mirror + "/HEAD");
  auto refs = Git(
      env, {.args = {"--git-dir=" + mirror, "for-each-ref", "--format=%(objectname) %(refname)"}});
  if (!head || !refs || !head->ends_with('\n')) return "";
  return *head + *refs;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// Brings the clone at `tree`, whose remote is the mirror, to the mirror's refs as a fresh
// clone has them: the remote's branches and tags, and the local branch the clone made.
Result<void> CatchUp(const GitEnv& env, const std::string& tree) {
  const std::string git_dir = "--git-dir=" + tree + "/.git";
  auto fetched = Git(env, {.args = {git_dir, "fetch", "--quiet", "--prune", "--prune-tags",
                                    "--tags", "--force", "--no-write-fetch-head", "origin"}});
  if (!fetched) return fetched.error();
  auto locals =
      Git(env, {.args = {git_dir, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/"}});
  if (!locals) return locals.error();
  std::istringstream names(*locals);
  for (std::string name; std::getline(names, name);) {
    auto remote =
        Git(env,
            {.args = {git_dir, "rev-parse", "--verify", "--quiet", "refs/remotes/origin/" + name}});
    auto moved = remote ? Git(env, {.args = {git_dir, "update-ref", "refs/heads/" + name, *remote}})
                        : Git(env, {.args = {git_dir, "update-ref", "-d", "refs/heads/" + name}});
    if (!moved) return moved.error();
  }
  return {};
}

// A clone of the mirror at `aside` with `commit` checked out, noting the mirror's state.
Result<void> Build(const GitEnv& env, const std::string& mirror, const std::string& commit,
                   const std::string& aside) {
  std::string state;
  {
    PathLock mirror_lock(mirror);  // no fetch between noting the refs and cloning them
    if (!mirror_lock.ok()) return IoError("cannot lock", mirror + ".lock");
    state = MirrorState(env, mirror);
    if (state.empty()) return MakeError(ErrorCode::kIo, "cannot read the refs of " + mirror);
    auto cloned =
        Git(env, {.args = {"clone", "--quiet", "--local", "--no-checkout", "--", mirror, aside}});
    if (!cloned) return cloned.error();
  }
  const bool is_id =
      commit.size() == 40 && commit.find_first_not_of("0123456789abcdef") == std::string::npos;
  auto checked = Git(env, {.args = {"--git-dir=" + aside + "/.git", "--work-tree=" + aside, "-c",
                                    "checkout.workers=0", "checkout", "--quiet", "--detach",
                                    is_id ? commit : "HEAD", "--"},
                           .cwd = aside});
  if (!checked) return checked.error();
  auto head = Git(env, {.args = {"--git-dir=" + aside + "/.git", "rev-parse", "--verify", "HEAD"}});
  if (!head) return head.error();
  return WriteFileAtomic(aside + kStateFile, *head + "\n" + state, 0600, false);
}

void EmptyTrash(const RepoPaths& paths) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.Trash(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

}  // namespace

void RemoveSpare(const RepoPaths& paths, const std::string& mirror) {
  const std::string spare = paths.Spare(mirror);
  std::error_code ec;
  if (!fs::exists(spare, ec)) return;
  PathLock lock(spare);
  fs::remove_all(spare, ec);
}

void RemoveSpares(const RepoPaths& paths) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.Spares(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string path = it->path().string();
    std::error_code is_dir_ec;
    if (!it->is_directory(is_dir_ec) || path == paths.Trash() || path.ends_with(".new")) continue;
    PathLock lock(path);
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  EmptyTrash(paths);
}

void Trash(const RepoPaths& paths, const std::string& dir) {
  std::error_code ec;
  if (MakeDirs(paths.Trash(), 0700) &&
      rename(dir.c_str(), (paths.Trash() + "/" + NewSecret(6)).c_str()) == 0) {
    return;
  }
  fs::remove_all(dir, ec);
}

Result<bool> MakeSpare(const RepoPaths& paths, const std::string& mirror,
                       const std::string& commit) {
  EmptyTrash(paths);
  if (auto made = MakeDirs(paths.Spares(), 0700); !made) return made.error();
  const std::string spare = paths.Spare(mirror);
  PathLock lock(spare);  // a claim waits for the spare in the making
  if (!lock.ok()) return IoError("cannot lock", spare + ".lock");
  std::error_code ec;
  if (fs::exists(spare, ec)) return false;
  const std::string aside = spare + ".new";
  fs::remove_all(aside, ec);  // left by an agent that stopped while making it
  auto made = Build(PlainGitEnv(paths), mirror, commit, aside);
  if (made && rename(aside.c_str(), spare.c_str()) != 0) made = IoError("cannot rename", aside);
  if (!made) {
    fs::remove_all(aside, ec);
    return made.error();
  }
  return true;
}

std::optional<std::string> ClaimSpare(const RepoPaths& paths, const std::string& mirror,
                                      const std::string& workspace) {
  const std::string spare = paths.Spare(mirror);
  std::string commit, noted;
  {
    PathLock lock(spare);
    struct stat st {};
    if (!lock.ok() || lstat(spare.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    auto state = ReadFile(spare + kStateFile);
    const size_t eol = state ? state->find('\n') : std::string::npos;
    if (eol == std::string::npos) {
      Trash(paths, spare);
      return {};
    }
    commit = state->substr(0, eol);
    noted = state->substr(eol + 1);
    // Kept for the next task when it cannot be moved here.
    if (rename(spare.c_str(), workspace.c_str()) != 0) return {};
  }
  unlink((workspace + kStateFile).c_str());
  utimensat(AT_FDCWD, workspace.c_str(), nullptr, 0);  // the workspace is new (retention.h)
  const GitEnv env = PlainGitEnv(paths);
  const std::string now = MirrorState(env, mirror);
  if (now == noted) return commit;
  // Fetched into since: what is new comes from the mirror. A mirror whose HEAD moved to
  // another branch would be cloned differently; that spare is not used.
  if (now.empty() || FirstLine(now) != FirstLine(noted) || !CatchUp(env, workspace)) {
    Trash(paths, workspace);
    return {};
  }
  return commit;
}

}  // namespace autovibe::repo
