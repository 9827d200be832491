#include "cli/task_fetch.h"

#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/task_change.h"
#include "common/core/repo_url.h"
#include "common/core/run_program.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

using namespace std::chrono_literals;

// What the HTTP client reads of one answer (common/http/client.cc).
constexpr uint64_t kMaxBundleBytes = 64ull << 20;
constexpr auto kDownloadTimeout = 10min;
constexpr auto kFetchTimeout = 10min;

CliError Failure(std::string message) { return CliError{kExitFailure, std::move(message)}; }

// git, run in the repository the user named, with the user's own git settings.
class Git {
 public:
  explicit Git(std::string dir) : dir_(std::move(dir)) {}

  Result<std::string> Run(std::vector<std::string> args,
                          std::chrono::milliseconds timeout = 60s) const {
    args.insert(args.begin(), "git");
    auto out = RunProgram(
        {.argv = std::move(args), .timeout = timeout, .cwd = dir_, .stdout_apart = true});
    if (out) {
      while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) out->pop_back();
    }
    return out;
  }

  // The commit `ref` names here; "" when it names none.
  std::string Commit(const std::string& ref) const {
    auto c = Run({"rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}"});
    return c ? *c : "";
  }

 private:
  std::string dir_;
};

// A commit id as git writes it (SHA-1 or SHA-256): what the controller sent is checked before
// git sees it.
bool CommitId(const std::string& s) {
  return (s.size() == 40 || s.size() == 64) &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Removes the file it names when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) unlink(path.c_str());
  }
};

// Writes `data` to a new private file in $TMPDIR (else /tmp).
CliStatus WriteTemp(TempFile& file, const std::string& id, const std::string& data) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/autovibe-" +
                        id + "-XXXXXX.bundle";
  const int fd = mkstemps(pattern.data(), 7);
  if (fd < 0) return Failure("cannot make a temporary file " + pattern + ": " + strerror(errno));
  file.path = pattern;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = strerror(errno);
      close(fd);
      return Failure("cannot write the bundle to " + pattern + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0)
    return Failure("cannot write the bundle to " + pattern + ": " + strerror(errno));
  return {};
}

struct Change {
  std::string branch, base, head;
  uint64_t bundle_bytes = 0;
  std::string summary;  // ChangeLine
};

// The change to fetch, checked: a hostile or broken controller cannot hand git an option.
CliResult<Change> FetchableChange(const json::object& task, const std::string& id) {
  auto c = UsableChange(task);
  if (!c) return c.error();
  Change out{StringField(*c, "branch"), StringField(*c, "base"), StringField(*c, "head")};
  if (out.head == out.base) {
    return Failure("task " + id + " changed nothing (it left the repository at " +
                   ShortCommit(out.base) + "): there is no branch to fetch");
  }
  if (!CommitId(out.base) || !CommitId(out.head) || !CheckBranchName(out.branch)) {
    return Failure("the controller describes task " + id +
                   "'s change with a malformed branch or commit id; not fetching it");
  }
  if (auto n = IntField(*c, "bundle_bytes"); n && *n > 0) out.bundle_bytes = *n;
  if (out.bundle_bytes > kMaxBundleBytes) {
    return Failure("task " + id + "'s bundle is " + FormatBytes(out.bundle_bytes) +
                   ", more than this CLI downloads (" + FormatBytes(kMaxBundleBytes) +
                   "); push it instead (--publish push)");
  }
  out.summary = ChangeLine(*c);
  return out;
}

// Whether fetching into `local` is safe; sets `done` when it already holds the change.
CliStatus CheckRepository(const Git& git, const json::object& task, const Change& c,
                          const std::string& local, bool force, bool& done) {
  const json::object& repo = ObjectField(task, "repo");
  const std::string origin = StringField(repo, "url");
  if (auto inside = git.Run({"rev-parse", "--git-dir"}); !inside) {
    return Failure("not in a git repository: run autovibe task fetch inside a clone of " +
                   OrDash(origin));
  }
  if (git.Commit(c.base).empty()) {
    const std::string ref = StringField(repo, "ref");
    return Failure("this repository lacks the task's base commit " + ShortCommit(c.base) + " (of " +
                   OrDash(origin) + (ref.empty() ? "" : " at " + ref) +
                   "): fetch it first (git fetch), or run this in a clone of " + OrDash(origin));
  }
  const std::string now = git.Commit("refs/heads/" + local);
  if (now == c.head) {
    done = true;
  } else if (!now.empty() && !force) {
    return Failure("branch " + local + " already exists here at " + ShortCommit(now) +
                   ", not at the task's " + ShortCommit(c.head) +
                   ": --force moves it, or --branch NAME fetches into another branch");
  }
  return {};
}

void PrintFetched(CommandContext& ctx, const std::string& id, const std::string& local,
                  const Change& c, bool already) {
  if (ctx.options.json) {
    PrintJson(ctx.out, json::object{{"id", id},
                                    {"branch", local},
                                    {"base", c.base},
                                    {"head", c.head},
                                    {"fetched", !already}});
    return;
  }
  ctx.out << (already ? "branch " + local + " already holds task " + id + "'s change"
                      : "fetched task " + id + "'s change into branch " + local)
          << " (" << c.summary << ")\n"
          << "check it out: git switch " << local << '\n';
}

}  // namespace

CliStatus FetchTask(CommandContext& ctx, const std::string& id, const FetchFlags& flags) {
  const std::string path = "/v1/tasks/" + PathSegment(id);
  auto body = ctx.client.Call("GET", path);
  if (!body) return body.error();
  auto task = ExpectObject(*body, "GET " + path);
  if (!task) return task.error();
  auto change = FetchableChange(**task, id);
  if (!change) return change.error();
  const std::string local = flags.local_branch.empty() ? change->branch : flags.local_branch;

  const Git git(flags.dir);
  bool already = false;
  if (auto ok = CheckRepository(git, **task, *change, local, flags.force, already); !ok) {
    return ok.error();
  }
  if (already) {
    PrintFetched(ctx, id, local, *change, true);
    return {};
  }
  auto bundle = ctx.client.WithTimeout(kDownloadTimeout).Raw("GET", path + "/bundle");
  if (!bundle) return bundle.error();
  TempFile file;
  if (auto w = WriteTemp(file, id, bundle->body); !w) return w.error();
  const std::string refspec =
      std::string(flags.force ? "+" : "") + "refs/heads/" + change->branch + ":refs/heads/" + local;
  if (auto f =
          git.Run({"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", file.path, refspec},
                  kFetchTimeout);
      !f) {
    return Failure("git could not fetch task " + id + "'s bundle: " + f.error().message);
  }
  if (const std::string now = git.Commit("refs/heads/" + local); now != change->head) {
    return Failure("after the fetch, branch " + local + " is at " + OrDash(ShortCommit(now)) +
                   ", not at the task's " + ShortCommit(change->head));
  }
  PrintFetched(ctx, id, local, *change, false);
  return {};
}

}  // namespace autovibe::cli
