#include "cli/task_change_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <memory>

#include "cli/client.h"
#include "cli/diff_stat.h"
#include "cli/json_output.h"
#include "cli/task_change.h"
#include "cli/task_fetch.h"
#include "common/core/repo_url.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

using namespace std::chrono_literals;

// A diff of many megabytes takes the controller a while to read and send.
constexpr auto kDiffTimeout = 5min;

void AddDiffVerb(CLI::App& task, Invocation& inv) {
  CLI::App* diff = task.add_subcommand(
      "diff", "Print a repository task's change as a diff (pipe it to git apply), or --stat");
  auto id = std::make_shared<std::string>();
  auto stat = std::make_shared<bool>(false);
  diff->add_option("ID", *id, "Task id")->required();
  diff->add_flag("--stat", *stat,
                 "Files changed with their insertions and deletions, as git diff --stat; with "
                 "--json the API's change object");
  diff->callback([&inv, id, stat] {
    inv.command = "task diff";
    inv.action = [id, stat](CommandContext& ctx) { return ShowTaskDiff(ctx, *id, *stat); };
  });
}

void AddFetchVerb(CLI::App& task, Invocation& inv) {
  CLI::App* fetch = task.add_subcommand(
      "fetch", "Fetch a repository task's branch into the git repository of the current directory");
  auto id = std::make_shared<std::string>();
  auto flags = std::make_shared<FetchFlags>();
  fetch->add_option("ID", *id, "Task id")->required();
  fetch
      ->add_option("--branch", flags->local_branch,
                   "Local branch to fetch into (default: the task's branch, autovibe/<id>)")
      ->type_name("LOCAL");
  fetch->add_flag("--force", flags->force,
                  "Move the local branch to the task's change even when it points elsewhere");
  fetch->callback([&inv, id, flags] {
    if (!flags->local_branch.empty()) {
      if (auto ok = CheckBranchName(flags->local_branch); !ok) {
        throw CLI::ValidationError("--branch: " + ok.error().message);
      }
    }
    inv.command = "task fetch";
    inv.action = [id, flags](CommandContext& ctx) { return FetchTask(ctx, *id, *flags); };
  });
}

void AddReviewVerbs(CLI::App& task, Invocation& inv) {
  CLI::App* approve = task.add_subcommand(
      "approve", "Approve a task awaiting review: it succeeds and its change is published");
  auto approve_id = std::make_shared<std::string>();
  approve->add_option("ID", *approve_id, "Task id")->required();
  approve->callback([&inv, approve_id] {
    inv.command = "task approve";
    inv.action = [approve_id](CommandContext& ctx) {
      return ReviewTask(ctx, *approve_id, true, "");
    };
  });

  CLI::App* reject =
      task.add_subcommand("reject", "Reject a task awaiting review: its change is never published");
  auto reject_id = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  reject->add_option("ID", *reject_id, "Task id")->required();
  reject->add_option("--reason", *reason, "Why, kept with the task (at most 1000 bytes)")
      ->type_name("R");
  reject->callback([&inv, reject_id, reason] {
    if (reason->size() > 1000) throw CLI::ValidationError("--reason: at most 1000 bytes");
    inv.command = "task reject";
    inv.action = [reject_id, reason](CommandContext& ctx) {
      return ReviewTask(ctx, *reject_id, false, *reason);
    };
  });
}

// --stat: the figures of the diff itself when the controller holds it, else of the change.
CliStatus PrintStat(CommandContext& ctx, const std::string& id, const json::object& change) {
  if (ctx.options.json) {
    PrintJson(ctx.out, change);
    return {};
  }
  const std::string base = StringField(change, "base");
  if (StringField(change, "head") == base) {
    ctx.out << "no change: task " << id << " left the repository at " << ShortCommit(base) << '\n';
    return {};
  }
  auto diff =
      ctx.client.WithTimeout(kDiffTimeout).Raw("GET", "/v1/tasks/" + PathSegment(id) + "/diff");
  if (diff) {
    PrintDiffStat(ctx.out, ParseDiffStat(diff->body));
    return {};
  }
  // 409: not fetched from its machine yet (or it could not be kept); the counts are known.
  if (diff.error().exit_code != kExitFailure) return diff.error();
  ctx.out << ' ' << ChangeShortStat(change)
          << "\n (per file once the controller holds the diff: " << diff.error().message << ")\n";
  return {};
}

}  // namespace

void AddChangeCommands(CLI::App& task, Invocation& inv) {
  AddDiffVerb(task, inv);
  AddFetchVerb(task, inv);
  AddReviewVerbs(task, inv);
}

CliStatus ShowTaskDiff(CommandContext& ctx, const std::string& id, bool stat) {
  const std::string path = "/v1/tasks/" + PathSegment(id);
  if (!stat) {
    auto diff = ctx.client.WithTimeout(kDiffTimeout).Raw("GET", path + "/diff");
    if (!diff) return diff.error();
    ctx.out << diff->body;
    return {};
  }
  auto body = ctx.client.Call("GET", path);
  if (!body) return body.error();
  auto task = ExpectObject(*body, "GET " + path);
  if (!task) return task.error();
  auto change = UsableChange(**task);
  if (!change) return change.error();
  return PrintStat(ctx, id, *change);
}

CliStatus ReviewTask(CommandContext& ctx, const std::string& id, bool approve,
                     const std::string& reason) {
  const std::string path = "/v1/tasks/" + PathSegment(id) + (approve ? "/approve" : "/reject");
  auto body = reason.empty() ? ctx.client.Call("POST", path)
                             : ctx.client.Post(path, json::object{{"reason", reason}});
  if (!body) return body.error();
  return PrintObjectAnswer(ctx, *body, "POST " + path, [&](const json::object& task) {
    ctx.out << OrDash(StringField(task, "id")) << ' ' << OrDash(StringField(task, "state")) << '\n';
    const std::string publish = StringField(ObjectField(task, "repo"), "publish");
    if (approve && !publish.empty() && publish != "none") {
      ctx.out << "publishing (" << publish << "): autovibe task show " << id
              << " says when it is done\n";
    }
  });
}

}  // namespace autovibe::cli
