#include "worker-agent/repo/credential.h"

#include <unistd.h>

#include "common/core/files.h"

namespace autovibe::repo {
namespace {

bool Loopback(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

}  // namespace

GitEnv PlainGitEnv(const RepoPaths& paths) {
  GitEnv env;
  env.home = paths.Home();
  env.known_hosts = paths.KnownHosts();
  return env;
}

Result<Credential> Credential::For(const RepoPaths& paths, const v1::RepoSpec& spec,
                                   const std::string& task_id) {
  auto url = ParseRepoUrl(spec.url());
  if (!url) return url.error();
  if (auto made = MakeDirs(paths.Home(), 0700); !made) return made.error();
  Credential c;
  c.url_ = std::move(*url);
  c.env_ = PlainGitEnv(paths);
  const std::string& secret = spec.credential();
  if (secret.empty()) return c;
  switch (c.url_.kind) {
    case RepoKind::kHttp:
      if (!Loopback(c.url_.host)) {
        return MakeError(ErrorCode::kBadUrl, "a credential is not sent over plain http to " +
                                                 c.url_.host + ": use https");
      }
      [[fallthrough]];
    case RepoKind::kHttps: {
      std::string token = secret;
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
      c.env_.token = std::move(token);
      return c;
    }
    case RepoKind::kSsh: {
      if (auto made = MakeDirs(paths.Keys(), 0700); !made) return made.error();
      const std::string file = paths.Keys() + "/" + task_id;
      std::string key = secret;
      if (!key.ends_with("\n")) key += "\n";
      if (auto w = WriteFileAtomic(file, key, 0600, false); !w) return w.error();
      c.key_file_ = file;
      c.env_.ssh_key_file = file;
      return c;
    }
    case RepoKind::kGit:
    case RepoKind::kLocal:
      return c;  // nothing to authenticate with
  }
  return c;
}

Credential::Credential(Credential&& other) noexcept
    : env_(std::move(other.env_)),
      url_(std::move(other.url_)),
      key_file_(std::exchange(other.key_file_, "")) {}

Credential::~Credential() {
  if (!key_file_.empty()) unlink(key_file_.c_str());
}

}  // namespace autovibe::repo
