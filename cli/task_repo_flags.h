// The repository flags of `autovibe task submit` (--repo and what goes with it): the task's
// "repo" object, checked before anything is sent.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// As typed; empty strings and false are "not given".
struct RepoFlags {
  std::string url;           // --repo
  std::string ref;           // --ref
  std::string secret;        // --repo-secret
  std::string branch;        // --branch
  std::string publish;       // --publish none|push|pr
  std::string publish_on;    // --publish-on success|failure
  bool review = false;       // --review
  std::string forge_api;     // --forge-api
  std::string forge_secret;  // --forge-secret
  std::string author;        // --author "Name <email>"
};

// Adds the flags to `submit`, filling `flags`.
void AddRepoFlags(CLI::App& submit, RepoFlags& flags);

// The "repo" object of POST /v1/tasks (nullopt without --repo). A usage error (exit 2) names
// the flag that is wrong: a repository flag without --repo, a URL the controller would refuse
// (ext::, an option, a relative path, credentials in it), a bad ref or branch name, an unknown
// --publish or --publish-on value, a --forge-api that is not http(s).
CliResult<std::optional<boost::json::object>> RepoRequest(const RepoFlags& flags);

}  // namespace autovibe::cli
