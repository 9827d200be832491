#include "cli/task_submit.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/task_wait.h"
#include "common/budget/amounts.h"
#include "common/core/duration.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// The controller's limit on a title (controller/api/task_spec_json.cc).
constexpr size_t kMaxTitleBytes = 200;

CliError Usage(std::string message) { return CliError{kExitUsage, std::move(message)}; }

bool IsEnvName(std::string_view name) {
  auto letter = [](char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (name.empty() || !letter(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

// {"k":"v",...} from "k=v" words of `flag`; keys must pass `valid_key`, described by `what`.
CliResult<json::object> KeyValueFlags(std::string_view flag, const std::vector<std::string>& words,
                                      bool (*valid_key)(std::string_view), std::string_view what) {
  json::object out;
  for (const std::string& word : words) {
    const auto eq = word.find('=');
    const std::string_view key = std::string_view(word).substr(0, eq);
    if (eq == std::string::npos || !valid_key(key)) {
      return Usage(std::string(flag) + ": expected " + std::string(what) + "=VALUE, got \"" + word +
                   "\"");
    }
    if (out.contains(key)) {
      return Usage(std::string(flag) + ": \"" + std::string(key) + "\" is given twice");
    }
    out[key] = word.substr(eq + 1);
  }
  return out;
}

// Whole seconds, rounded up; at least one.
CliResult<int64_t> TimeoutSeconds(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return Usage("--timeout: " + d.error().message);
  if (d->count() < 1000) return Usage("--timeout: must be at least 1s, got \"" + text + "\"");
  // (A bare integer would also convert to CliError, an aggregate: name the value.)
  return CliResult<int64_t>(boost::system::in_place_value, (d->count() + 999) / 1000);
}

CliStatus AtLeastOne(std::string_view flag, const std::optional<int64_t>& n) {
  if (n && *n < 1) {
    return Usage(std::string(flag) + ": must be at least 1, got " + std::to_string(*n));
  }
  return {};
}

// "options": the tool's settings, as strings.
json::object ToolOptions(const SubmitFlags& f) {
  json::object options;
  if (!f.model.empty()) options["model"] = f.model;
  if (f.max_turns) options["max_turns"] = std::to_string(*f.max_turns);
  return options;
}

// What the task runs: a prompt for an agent, or a command.
CliStatus AddWork(json::object& body, const SubmitFlags& f) {
  if (f.prompt.empty() == f.command.empty()) {
    return Usage(f.prompt.empty()
                     ? "say what the task does: --prompt TEXT, or a command after -- (task "
                       "submit ... -- CMD ARGS...)"
                     : "give either --prompt or a command after --, not both");
  }
  if (!f.prompt.empty()) {
    body["prompt"] = f.prompt;
  } else {
    body["command"] = json::array(f.command.begin(), f.command.end());
  }
  return {};
}

}  // namespace

CliResult<json::object> SubmitRequest(const SubmitFlags& f) {
  json::object body{{"project", f.project}, {"tool", f.tool}};
  if (auto r = AddWork(body, f); !r) return r.error();
  if (auto r = AtLeastOne("--max-turns", f.max_turns); !r) return r.error();
  if (auto r = AtLeastOne("--max-attempts", f.max_attempts); !r) return r.error();
  auto labels = KeyValueFlags(
      "--label", f.labels, [](std::string_view k) { return !k.empty(); }, "KEY");
  if (!labels) return labels.error();
  auto env = KeyValueFlags("--env", f.env, IsEnvName, "NAME");
  if (!env) return env.error();

  if (f.priority) body["priority"] = *f.priority;
  if (!f.after.empty()) body["depends_on"] = json::array(f.after.begin(), f.after.end());
  if (!labels->empty()) body["labels"] = std::move(*labels);
  if (!env->empty()) body["env"] = std::move(*env);
  if (auto options = ToolOptions(f); !options.empty()) body["options"] = std::move(options);
  if (!f.timeout.empty()) {
    auto secs = TimeoutSeconds(f.timeout);
    if (!secs) return secs.error();
    body["timeout_s"] = *secs;
  }
  if (f.max_attempts) body["max_attempts"] = *f.max_attempts;
  if (!f.max_usd.empty()) {
    auto micros = ParseUsd(f.max_usd);
    if (!micros || *micros <= 0) {
      return Usage("--max-usd: expected a positive amount of dollars such as 0.50, got \"" +
                   f.max_usd + "\"");
    }
    body["max_usd"] = FormatUsd(*micros);
  }
  if (!f.from_checkpoint.empty()) body["from_checkpoint"] = f.from_checkpoint;
  if (f.title.size() > kMaxTitleBytes) {
    return Usage("--title: at most 200 bytes, got " + std::to_string(f.title.size()));
  }
  if (!f.title.empty()) body["title"] = f.title;
  auto repo = RepoRequest(f.repo);
  if (!repo) return repo.error();
  if (*repo) body["repo"] = std::move(**repo);
  return body;
}

void AddSubmitCommand(CLI::App& task, Invocation& inv) {
  auto f = std::make_shared<SubmitFlags>();
  CLI::App* submit = task.add_subcommand(
      "submit", "Submit a task and print its id: --prompt TEXT for an agent, or -- CMD ARGS...");
  submit->add_option("--project", f->project, "Project the task belongs to")->required();
  submit->add_option("--tool", f->tool, "Tool that runs it: claude-code, shell, ...")->required();
  submit->add_option("--prompt", f->prompt, "What the agent is asked to do");
  submit->add_option("--priority", f->priority, "Higher runs first (default 0)");
  submit->add_option("--after", f->after, "Start only after task ID succeeded (repeatable)")
      ->type_name("ID")
      ->allow_extra_args(false);
  submit->add_option("--label", f->labels, "A label KEY=VALUE (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  submit->add_option("--env", f->env, "An environment variable for the tool (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  submit->add_option("--model", f->model, "Model the agent uses");
  submit->add_option("--max-turns", f->max_turns, "Most agent turns");
  submit->add_option("--max-attempts", f->max_attempts, "Most tries, retries included");
  submit->add_option(
      "--max-usd", f->max_usd,
      "The task's own spending cap in dollars (0.50); the project's budgets apply too");
  submit->add_option("--timeout", f->timeout, "Longest run per attempt: 90s, 30m, 1h")
      ->type_name("DURATION");
  submit->add_option("--from-checkpoint", f->from_checkpoint, "Start from this checkpoint")
      ->type_name("CP");
  submit
      ->add_option("--title", f->title,
                   "A short name for the task: the message of its commit in a repository")
      ->type_name("T");
  AddRepoFlags(*submit, f->repo);
  submit->add_flag(
      "--wait", f->wait,
      "Follow the task to its end, then exit with its exit code (0 succeeded, N "
      "exit code N, 1 otherwise); a pause ends the wait with exit code 75, awaiting review "
      "with 0");
  submit->add_flag("--wait-through-pauses", f->wait_through_pauses,
                   "Like --wait, but keep waiting when the task is paused");
  submit->add_option("CMD", f->command, "The command and its arguments, after --");
  submit->callback([&inv, f] {
    auto request = SubmitRequest(*f);
    if (!request) throw CLI::ValidationError(request.error().message);
    inv.command = "task submit";
    const WaitMode wait = f->wait_through_pauses ? WaitMode::kThroughPauses
                          : f->wait              ? WaitMode::kToEndOrPause
                                                 : WaitMode::kNone;
    inv.action = [request = std::move(*request), wait](CommandContext& ctx) {
      return SubmitTask(ctx, request, wait, ProcessTerminal());
    };
  });
}

CliStatus SubmitTask(CommandContext& ctx, const json::object& request, WaitMode wait,
                     const Terminal& term) {
  constexpr std::string_view kRequest = "POST /v1/tasks";
  auto body = ctx.client.Post("/v1/tasks", request);
  if (!body) return body.error();
  if (wait == WaitMode::kNone) return PrintCreated(ctx, *body, kRequest, "id");
  auto task = ExpectObject(*body, kRequest);
  if (!task) return task.error();
  const std::string id = StringField(**task, "id");
  if (id.empty()) {
    return CliError{kExitFailure,
                    "unexpected answer from the controller to POST /v1/tasks: no "
                    "task id"};
  }
  if (!ctx.options.json) {
    ctx.out << id << '\n';
    ctx.out.flush();
  }
  return WaitForTask(ctx, **task, term, wait == WaitMode::kThroughPauses);
}

}  // namespace autovibe::cli
