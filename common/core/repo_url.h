// Repository addresses a task may name (`--repo URL`): checked by the controller when a task
// or project names one, and again by the agent before git sees it. Git accepts far more than a
// task needs (`ext::` runs a command, `-` starts an option); only these forms pass:
//   https://host/path, http://host/path   (http: credentials only to loopback)
//   ssh://[user@]host[:port]/path, user@host:path
//   git://host/path
//   file:///abs/path, /abs/path           (a repository on the agent's own machine)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

enum class RepoKind { kHttps, kHttp, kSsh, kGit, kLocal };

struct RepoUrl {
  RepoKind kind = RepoKind::kHttps;
  std::string url;   // as git is given it (a local path without file://)
  std::string host;  // empty for a local path
  std::string path;  // the path on the host (or the local path)
};

// Errors: bad_url, with why, for anything else (and for a local path with a ".." part).
Result<RepoUrl> ParseRepoUrl(std::string_view text);

// Whether a local repository lies under one of `roots` (absolute paths; none: no local
// repository is allowed). Error bad_url naming the roots when it does not.
Result<void> CheckLocalRepo(const RepoUrl& url, const std::vector<std::string>& roots);

// A ref a task may name: a branch, tag or commit (1-255 bytes, no leading '-', no spaces,
// control characters or "..", as `git check-ref-format` allows). Error bad_request.
Result<void> CheckRepoRef(std::string_view ref);
// "Name <email>" as git writes an author: the name and the address apart. Nothing for text that
// is not one line of at most 200 bytes in that shape.
struct GitAuthor {
  std::string name, email;
};
std::optional<GitAuthor> ParseAuthor(std::string_view text);

// A branch the change is left on (the same rules; "autovibe/<task>" by default).
Result<void> CheckBranchName(std::string_view branch);

}  // namespace autovibe
