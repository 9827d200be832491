// A repository's credential, made usable by git for one fetch or push and gone after: a token
// stays in git's environment (git.h), an ssh key in a 0600 file of the agent's that is removed
// when the Credential goes.
#pragma once

#include <string>

#include "autovibe/v1/command.pb.h"
#include "common/core/repo_url.h"
#include "common/core/result.h"
#include "worker-agent/repo/git.h"
#include "worker-agent/repo/paths.h"

namespace autovibe::repo {

class Credential {
 public:
  // Errors: bad_url (an address autovibe does not allow; a credential for plain http to
  // another machine), io (the key file).
  static Result<Credential> For(const RepoPaths& paths, const v1::RepoSpec& spec,
                                const std::string& task_id);
  ~Credential();
  Credential(Credential&& other) noexcept;
  Credential& operator=(Credential&&) = delete;
  Credential(const Credential&) = delete;

  const GitEnv& env() const { return env_; }
  const RepoUrl& url() const { return url_; }

 private:
  Credential() = default;
  GitEnv env_;
  RepoUrl url_;
  std::string key_file_;  // removed on destruction
};

// The common environment of the agent's git runs (no credential).
GitEnv PlainGitEnv(const RepoPaths& paths);

}  // namespace autovibe::repo
