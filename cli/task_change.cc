#include "cli/task_change.h"

#include "cli/diff_stat.h"
#include "cli/json_output.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

uint64_t CountField(const json::object& obj, std::string_view key) {
  const auto n = IntField(obj, key);
  return n && *n > 0 ? static_cast<uint64_t>(*n) : 0;
}

bool BoolField(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

// "/srv/app.git (ref main, secret gh)".
std::string RepoLine(const json::object& repo) {
  std::string line = StringField(repo, "url");
  std::vector<std::string> more;
  if (std::string ref = StringField(repo, "ref"); !ref.empty()) more.push_back("ref " + ref);
  if (std::string s = StringField(repo, "secret"); !s.empty()) more.push_back("secret " + s);
  if (!more.empty()) line += " (" + Join(more, ", ") + ")";
  return line;
}

// "push, after review", "pr via https://api.example.org (forge secret gh), also on failure".
std::string PublishLine(const json::object& repo) {
  std::string publish = StringField(repo, "publish");
  if (publish.empty()) publish = "none";
  std::string line = publish;
  if (publish == "pr") {
    if (std::string api = StringField(repo, "forge_api"); !api.empty()) line += " via " + api;
    if (std::string s = StringField(repo, "forge_secret"); !s.empty()) {
      line += " (forge secret " + s + ")";
    }
  }
  if (BoolField(repo, "review")) line += ", after review";
  if (StringField(repo, "publish_on") == "failure") line += ", also on failure";
  return line;
}

std::string StoredLine(const json::object& change) {
  if (!BoolField(change, "stored")) return StringField(change, "head").empty() ? "-" : "not yet";
  return "yes (diff " + FormatBytes(CountField(change, "diff_bytes")) + ", bundle " +
         FormatBytes(CountField(change, "bundle_bytes")) + ")";
}

std::string PublishedLine(const json::object& repo, const json::object& change) {
  const std::string published = StringField(change, "published");
  if (published == "pr") return "pull request " + OrDash(StringField(change, "pr_url"));
  if (!published.empty()) return published;
  const std::string publish = StringField(repo, "publish");
  return publish.empty() || publish == "none" ? "-" : "not yet";
}

}  // namespace

std::string ShortCommit(const std::string& commit) { return commit.substr(0, 7); }

std::string ChangeLine(const json::object& c) {
  if (std::string error = StringField(c, "error"); !error.empty()) return "none: " + error;
  const std::string base = StringField(c, "base"), head = StringField(c, "head");
  if (head.empty()) return "-";
  if (head == base) return "no change (left at " + ShortCommit(base) + ")";
  return ShortCommit(base) + ".." + ShortCommit(head) + ", " + ChangeShortStat(c);
}

std::string ChangeShortStat(const json::object& c) {
  return ShortStat(CountField(c, "files_changed"), CountField(c, "insertions"),
                   CountField(c, "deletions"));
}

KeyValues ChangeDetails(const json::object& t) {
  KeyValues lines;
  if (std::string title = StringField(t, "title"); !title.empty())
    lines.emplace_back("title", title);
  const json::object& repo = ObjectField(t, "repo");
  if (repo.empty()) return lines;
  const json::object& change = ObjectField(t, "change");
  lines.insert(lines.end(), {{"repo", OrDash(RepoLine(repo))},
                             {"publish", PublishLine(repo)},
                             {"branch", OrDash(StringField(change, "branch"))},
                             {"change", ChangeLine(change)},
                             {"stored", StoredLine(change)},
                             {"published", PublishedLine(repo, change)}});
  return lines;
}

std::string ChangeNextSteps(const json::object& t) {
  const json::object& c = ObjectField(t, "change");
  const std::string id = StringField(t, "id");
  const std::string head = StringField(c, "head");
  if (head.empty() || head == StringField(c, "base") || !StringField(c, "error").empty()) {
    return "";
  }
  std::string text = "  branch " + StringField(c, "branch") + ": " + ChangeLine(c) + "\n" +
                     "  see it: autovibe task diff " + id +
                     "; bring it here: autovibe task fetch " + id;
  if (StringField(t, "state") == "awaiting_review") {
    text += "\n  then: autovibe task approve " + id + " (or reject " + id + " --reason ...)";
  }
  return text;
}

CliResult<json::object> UsableChange(const json::object& t) {
  const std::string id = StringField(t, "id");
  if (ObjectField(t, "repo").empty()) {
    return CliError{kExitNotFound, "task " + id + " has no repository, so no change"};
  }
  const json::object& c = ObjectField(t, "change");
  if (std::string error = StringField(c, "error"); !error.empty()) {
    return CliError{kExitFailure, "task " + id + " has no change: " + error};
  }
  if (StringField(c, "head").empty()) {
    return CliError{kExitFailure, "task " + id + " has not ended with a change yet (it is " +
                                      OrDash(StringField(t, "state")) + ")"};
  }
  return c;
}

}  // namespace autovibe::cli
