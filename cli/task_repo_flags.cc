#include "cli/task_repo_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "common/core/repo_url.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

CliError RepoUsage(std::string message) { return CliError{kExitUsage, std::move(message)}; }

// The controller's rule for secret names (controller/secrets/secret_store.h).
bool SecretName(std::string_view n) {
  if (n.empty() || n.size() > 64 || n.front() == '.') return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// The flags that mean nothing without a repository, with whether each was given.
std::vector<std::pair<std::string_view, bool>> RepoOnlyFlags(const RepoFlags& f) {
  return {{"--ref", !f.ref.empty()},
          {"--repo-secret", !f.secret.empty()},
          {"--branch", !f.branch.empty()},
          {"--publish", !f.publish.empty()},
          {"--publish-on", !f.publish_on.empty()},
          {"--review", f.review},
          {"--forge-api", !f.forge_api.empty()},
          {"--forge-secret", !f.forge_secret.empty()},
          {"--author", !f.author.empty()}};
}

CliStatus CheckUrl(const std::string& url) {
  if (auto parsed = ParseRepoUrl(url); !parsed) {
    std::string message = "--repo: " + parsed.error().message;
    std::error_code ec;
    // A path relative to here means nothing to an agent: say how to name it.
    if (!url.starts_with("/") && std::filesystem::is_directory(url, ec)) {
      std::string path = std::filesystem::absolute(url, ec).lexically_normal().string();
      if (path.size() > 1 && path.back() == '/') path.pop_back();
      message +=
          "; a repository on the machines' own disk is named by its absolute path (" + path + ")";
    }
    return RepoUsage(std::move(message));
  }
  return {};
}

CliStatus CheckNames(const RepoFlags& f) {
  if (!f.ref.empty()) {
    if (auto r = CheckRepoRef(f.ref); !r) return RepoUsage("--ref: " + r.error().message);
  }
  if (!f.branch.empty()) {
    if (auto r = CheckBranchName(f.branch); !r) return RepoUsage("--branch: " + r.error().message);
  }
  for (const auto& [flag, name] :
       {std::pair<std::string_view, const std::string&>{"--repo-secret", f.secret},
        {"--forge-secret", f.forge_secret}}) {
    if (!name.empty() && !SecretName(name)) {
      return RepoUsage(
          std::string(flag) + ": \"" + name +
          "\" is not a secret name (1-64 of A-Z a-z 0-9 . _ -, not starting with '.')");
    }
  }
  return {};
}

CliStatus CheckChoices(const RepoFlags& f) {
  if (!f.publish.empty() && f.publish != "none" && f.publish != "push" && f.publish != "pr") {
    return RepoUsage("--publish: expected none, push or pr, got \"" + f.publish + "\"");
  }
  if (!f.publish_on.empty() && f.publish_on != "success" && f.publish_on != "failure") {
    return RepoUsage("--publish-on: expected success or failure, got \"" + f.publish_on + "\"");
  }
  if (!f.forge_api.empty() && !f.forge_api.starts_with("https://") &&
      !f.forge_api.starts_with("http://")) {
    return RepoUsage("--forge-api: expected the forge's API URL (https://...), got \"" +
                     f.forge_api + "\"");
  }
  return {};
}

}  // namespace

void AddRepoFlags(CLI::App& submit, RepoFlags& f) {
  const std::string group = "Repository (the task works on a checkout; its change comes back)";
  submit
      .add_option("--repo", f.url,
                  "Repository the task works on: https://, ssh://, user@host:path, git://, "
                  "file:// or an absolute path on the machines")
      ->type_name("URL")
      ->group(group);
  submit.add_option("--ref", f.ref, "Branch, tag or commit to check out (default: its HEAD)")
      ->type_name("REF")
      ->group(group);
  submit
      .add_option("--repo-secret", f.secret,
                  "Secret holding the repository's credentials (autovibe secret set)")
      ->type_name("NAME")
      ->group(group);
  submit
      .add_option("--branch", f.branch,
                  "Branch the change is committed on (default: autovibe/<task id>)")
      ->type_name("NAME")
      ->group(group);
  submit
      .add_option("--publish", f.publish,
                  "What becomes of the change: none (kept by the controller; the default), push "
                  "(the branch to the repository), pr (pushed, then a pull request)")
      ->type_name("none|push|pr")
      ->group(group);
  submit
      .add_option("--publish-on", f.publish_on,
                  "Commit and publish the change when the task succeeds (the default), or also "
                  "when it fails (failure)")
      ->type_name("success|failure")
      ->group(group);
  submit
      .add_flag("--review", f.review,
                "Hold the finished task in awaiting_review: nothing is published until "
                "autovibe task approve")
      ->group(group);
  submit
      .add_option("--forge-api", f.forge_api,
                  "The forge's REST API for --publish pr (https://api.github.com; Gitea and "
                  "Forgejo: https://host/api/v1); default: from the repository URL")
      ->type_name("URL")
      ->group(group);
  submit
      .add_option("--author", f.author,
                  "Author and committer of the change's commit, \"Name <email>\" (default: "
                  "autovibe)")
      ->type_name("\"NAME <EMAIL>\"")
      ->group(group);
  submit
      .add_option("--forge-secret", f.forge_secret,
                  "Secret holding the forge token for --publish pr (default: --repo-secret)")
      ->type_name("NAME")
      ->group(group);
}

CliResult<std::optional<json::object>> RepoRequest(const RepoFlags& f) {
  if (f.url.empty()) {
    for (const auto& [flag, given] : RepoOnlyFlags(f)) {
      if (given) {
        return RepoUsage(std::string(flag) +
                         " is about the task's repository: give the repository with --repo URL");
      }
    }
    return std::optional<json::object>();
  }
  if (auto r = CheckUrl(f.url); !r) return r.error();
  if (auto r = CheckNames(f); !r) return r.error();
  if (auto r = CheckChoices(f); !r) return r.error();
  if (!f.author.empty() && !ParseAuthor(f.author)) {
    return RepoUsage("--author must read \"Name <email>\"");
  }
  json::object repo{{"url", f.url}};
  auto put = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) repo[key] = value;
  };
  put("ref", f.ref);
  put("secret", f.secret);
  put("branch", f.branch);
  put("publish", f.publish);
  put("publish_on", f.publish_on);
  if (f.review) repo["review"] = true;
  put("forge_api", f.forge_api);
  put("forge_secret", f.forge_secret);
  put("author", f.author);
  return std::optional<json::object>(std::move(repo));
}

}  // namespace autovibe::cli
