#include "cli/task_cmd.h"

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/task_change.h"
#include "cli/task_change_cmd.h"
#include "cli/task_logs.h"
#include "cli/task_submit.h"
#include "cli/verbs.h"
#include "common/core/duration.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// The WHAT column shows this many characters of the prompt or command.
constexpr size_t kWhatWidth = 40;

std::string Collapse(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Machine(const json::object& t) {
  const std::string name = StringField(t, "machine_name"), id = StringField(t, "machine_id");
  if (!name.empty() && !id.empty()) return name + " (" + id + ")";
  return OrDash(name.empty() ? id : name);
}

// "1/3" in a table, "1 of 3" in details.
std::string Attempts(const json::object& t, std::string_view joiner) {
  const auto n = IntField(t, "attempts"), max = IntField(t, "max_attempts");
  if (!n) return "-";
  return std::to_string(*n) + (max ? std::string(joiner) + std::to_string(*max) : "");
}

std::string IntOrNone(const json::object& obj, std::string_view key) {
  const auto n = IntField(obj, key);
  return n ? std::to_string(*n) : "-";
}

// What the tool said it cost, in dollars; "-" for tools that report nothing (shell).
std::string ReportedCost(const json::object& report) {
  const std::string usd = StringField(report, "reported_cost_usd");
  if (usd.empty() || (usd.find_first_not_of("0.") == std::string::npos &&
                      StringField(report, "result_subtype").empty())) {
    return "-";
  }
  return "$" + usd;
}

std::string Timeout(const json::object& t) {
  const auto secs = IntField(t, "timeout_s");
  return secs && *secs > 0 ? FormatDuration(std::chrono::seconds(*secs)) : "-";
}

// A task's title says what it is about in fewer words than its prompt.
std::string TitleOrWhat(const json::object& t) {
  std::string title = StringField(t, "title");
  return title.empty() ? TaskWhat(t) : Collapse(title);
}

std::string Formatted(const json::object& obj, std::string_view key,
                      std::string (*format)(const json::value&)) {
  const auto* v = obj.if_contains(key);
  return v ? OrDash(format(*v)) : "-";
}

void AddListVerb(CLI::App& task, Invocation& inv) {
  auto project = std::make_shared<std::string>();
  auto state = std::make_shared<std::string>();
  CLI::App* list =
      AddVerb(task, inv, "list", "List tasks in submission order",
              [project, state](CommandContext& ctx) { return ListTasks(ctx, *project, *state); });
  list->add_option("--project", *project, "Only tasks of this project");
  list->add_option("--state", *state,
                   "Only tasks in this state: queued, blocked, assigned, running, paused, "
                   "awaiting_review, succeeded, failed, cancelled, rejected");
}

}  // namespace

void AddTaskCommands(CLI::App& app, Invocation& inv) {
  CLI::App* task = app.add_subcommand(
      "task", "Coding tasks: submit, watch, cancel, resume; a repository task's diff and review");
  task->require_subcommand(1);
  AddSubmitCommand(*task, inv);
  AddListVerb(*task, inv);
  AddVerbWithArgument(*task, inv, "show", "Show every field of one task", "ID", "Task id",
                      ShowTask);
  AddLogsCommand(*task, inv);
  AddVerbWithArgument(*task, inv, "cancel", "Cancel a task that has not ended", "ID", "Task id",
                      CancelTask);
  AddChangeCommands(*task, inv);
  AddVerbWithArgument(*task, inv, "resume",
                      "Queue a paused task again (after a checkpoint restore paused it); it goes "
                      "on in its workspace",
                      "ID", "Task id", ResumeTask);
}

CliStatus ListTasks(CommandContext& ctx, const std::string& project, const std::string& state) {
  std::vector<std::string> filters;
  if (!project.empty()) filters.push_back("project=" + PathSegment(project));
  if (!state.empty()) filters.push_back("state=" + PathSegment(state));
  const std::string path = "/v1/tasks" + (filters.empty() ? "" : "?" + Join(filters, "&"));
  return GetAndPrintList(ctx, path, "tasks", "no tasks", [&](const json::array& tasks) {
    PrintTaskTable(ctx.out, tasks, ctx.now_ms);
  });
}

CliStatus ShowTask(CommandContext& ctx, const std::string& id) {
  return CallAndPrint(ctx, "GET", "/v1/tasks/" + PathSegment(id), [&](const json::object& task) {
    PrintKeyValues(ctx.out, TaskDetails(task, ctx.now_ms));
  });
}

namespace {

// POSTs to the task's `verb` and prints "ID STATE".
CliStatus PostTaskVerb(CommandContext& ctx, const std::string& id, const std::string& verb) {
  return CallAndPrint(ctx, "POST", "/v1/tasks/" + PathSegment(id) + "/" + verb,
                      [&](const json::object& task) {
                        ctx.out << OrDash(StringField(task, "id")) << ' '
                                << OrDash(StringField(task, "state")) << '\n';
                      });
}

}  // namespace

CliStatus CancelTask(CommandContext& ctx, const std::string& id) {
  return PostTaskVerb(ctx, id, "cancel");
}

CliStatus ResumeTask(CommandContext& ctx, const std::string& id) {
  return PostTaskVerb(ctx, id, "resume");
}

void PrintTaskTable(std::ostream& out, const json::array& tasks, int64_t now_ms) {
  Table table({"ID", "PROJECT", "TOOL", "STATE", "MACHINE", "ATTEMPTS", "EXIT", "AGE", "WHAT"});
  for (const auto& item : tasks) {
    if (!item.is_object()) continue;
    const json::object& t = item.get_object();
    const std::string machine = StringField(t, "machine_name");
    table.AddRow({OrDash(StringField(t, "id")), OrDash(StringField(t, "project")),
                  OrDash(StringField(t, "tool")), OrDash(StringField(t, "state")),
                  OrDash(machine.empty() ? StringField(t, "machine_id") : machine),
                  Attempts(t, "/"), IntOrNone(t, "exit_code"), AgeField(t, "created_at", now_ms),
                  OrDash(Truncate(TitleOrWhat(t), kWhatWidth))});
  }
  table.Print(out);
}

KeyValues TaskDetails(const json::object& t, int64_t now_ms) {
  const json::object& report = ObjectField(t, "report");
  const bool has_prompt = !StringField(t, "prompt").empty();
  KeyValues lines = {
      {"id", OrDash(StringField(t, "id"))},
      {"project", OrDash(StringField(t, "project"))},
      {"tool", OrDash(StringField(t, "tool"))},
      {"state", OrDash(StringField(t, "state"))},
      {"reason", OrDash(StringField(t, "reason"))},
      {has_prompt ? "prompt" : "command", OrDash(TaskWhat(t))},
      {"priority", IntOrNone(t, "priority")},
      {"depends on", Formatted(t, "depends_on", FormatList)},
      {"labels", Formatted(t, "labels", FormatLabels)},
      {"env", Formatted(t, "env", FormatLabels)},
      {"options", Formatted(t, "options", FormatLabels)},
      {"timeout", Timeout(t)},
      {"attempts", Attempts(t, " of ")},
      {"machine", Machine(t)},
      {"exit code", IntOrNone(t, "exit_code")},
      {"turns", IntOrNone(report, "turns")},
      {"session", OrDash(StringField(report, "session_id"))},
      {"reported cost", ReportedCost(report)},
      {"result", OrDash(StringField(report, "result_subtype"))},
  };
  const KeyValues change = ChangeDetails(t);
  lines.insert(lines.end(), change.begin(), change.end());
  lines.insert(lines.end(), {{"created", TimestampField(t, "created_at", now_ms)},
                             {"assigned", TimestampField(t, "assigned_at", now_ms)},
                             {"started", TimestampField(t, "started_at", now_ms)},
                             {"finished", TimestampField(t, "finished_at", now_ms)},
                             {"last log", OrDash(StringField(t, "last_log"))}});
  AppendOtherFields(lines, report, {"turns", "session_id", "reported_cost_usd", "result_subtype"},
                    "report.");
  AppendOtherFields(
      lines, t,
      {"id",        "project",    "tool",         "state",      "reason",       "prompt",
       "command",   "priority",   "depends_on",   "labels",     "env",          "options",
       "timeout_s", "attempts",   "max_attempts", "machine_id", "machine_name", "exit_code",
       "report",    "created_at", "assigned_at",  "started_at", "finished_at",  "last_log",
       "title",     "repo",       "change"});
  return lines;
}

std::string TaskWhat(const json::object& t) {
  if (std::string prompt = StringField(t, "prompt"); !prompt.empty()) return Collapse(prompt);
  const auto* command = t.if_contains("command");
  if (command == nullptr || !command->is_array()) return "";
  std::vector<std::string> words;
  for (const auto& word : command->get_array()) words.push_back(ShellQuote(FormatScalar(word)));
  return Collapse(Join(words, " "));
}

std::string ShellQuote(const std::string& word) {
  const bool safe = !word.empty() && word.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789@%_+=:,./-") == std::string::npos;
  if (safe) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace autovibe::cli
