// UpdateMirror: one bare mirror per repository URL, made once and fetched into for each task.
#include <stdio.h>

#include <filesystem>

#include "common/core/files.h"
#include "common/core/ids.h"
#include "worker-agent/repo/credential.h"
#include "worker-agent/repo/mirror_lock.h"
#include "worker-agent/repo/workspace_repo.h"

namespace autovibe::repo {
namespace {

Error Unavailable(const std::string& url, const Error& e) {
  return MakeError(ErrorCode::kRepoUnavailable, "cannot fetch " + url + ": " + e.message);
}

}  // namespace

Result<std::string> UpdateMirror(const RepoPaths& paths, const v1::RepoSpec& spec,
                                 const std::string& task_id) {
  auto cred = Credential::For(paths, spec, task_id);
  if (!cred) return cred.error();
  if (auto made = MakeDirs(paths.Mirrors(), 0700); !made) return made.error();
  const std::string& url = cred->url().url;
  const std::string mirror = paths.Mirror(url);
  PathLock lock(mirror);
  if (!lock.ok()) return IoError("cannot lock", mirror + ".lock");
  std::error_code ec;
  if (std::filesystem::exists(mirror + "/HEAD", ec)) {
    // Every branch and tag as the remote has them now; what went away there goes here too.
    auto fetched =
        Git(cred->env(),
            {.args = {"--git-dir=" + mirror, "fetch", "--quiet", "--prune", "--no-write-fetch-head",
                      "--", url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}});
    if (!fetched) return Unavailable(url, fetched.error());
    return mirror;
  }
  // Made aside and moved in whole: a clone that fails (no such host, refused, out of disk)
  // leaves nothing for the next task to trip on.
  const std::string aside = mirror + ".new-" + NewSecret(6);
  auto cloned = Git(cred->env(),
                    {.args = {"clone", "--quiet", "--bare", "--no-hardlinks", "--", url, aside}});
  if (cloned) {
    // A bare clone keeps the remote's branches as they are; fetches go on doing that.
    cloned = Git(cred->env(), {.args = {"--git-dir=" + aside, "config", "gc.auto", "0"}});
  }
  if (cloned && rename(aside.c_str(), mirror.c_str()) != 0)
    cloned = IoError("cannot rename", aside);
  if (!cloned) {
    std::filesystem::remove_all(aside, ec);
    return cloned.error().code == ErrorCode::kIo ? cloned.error()
                                                 : Unavailable(url, cloned.error());
  }
  return mirror;
}

}  // namespace autovibe::repo
