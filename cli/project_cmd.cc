#include "cli/project_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <initializer_list>
#include <memory>
#include <vector>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/task_repo_flags.h"
#include "cli/verbs.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// Task states in the order a task lives through them.
constexpr std::array<std::string_view, 8> kTaskStates = {
    "queued", "blocked", "assigned", "running", "paused", "succeeded", "failed", "cancelled"};

std::string Count(const json::object& counts, std::string_view state) {
  const auto n = IntField(counts, state);
  return n ? std::to_string(*n) : "-";
}

// A count of tasks a stop or resume reports: its field, what the tasks are, what befell them.
struct TaskCount {
  std::string_view field;
  std::string_view noun;
  std::string_view verb;
};

// "stopped project demo: 3 running tasks paused, 1 queued task held".
std::string Summary(std::string_view done, const json::object& project, const std::string& name,
                    std::initializer_list<TaskCount> counts) {
  const std::string answered = StringField(project, "name");
  std::string line = std::string(done) + " project " + (answered.empty() ? name : answered);
  std::vector<std::string> parts;
  for (const TaskCount& c : counts) {
    if (const auto n = IntField(project, c.field)) {
      parts.push_back(std::to_string(*n) + " " + std::string(c.noun) + (*n == 1 ? " " : "s ") +
                      std::string(c.verb));
    }
  }
  if (!parts.empty()) line += ": " + Join(parts, ", ");
  return line;
}

using SummaryOf = std::string (*)(const json::object& project, const std::string& name);

// POST /v1/projects/{name}/{action}; prints the answer's JSON with --json, else `summary`.
CliStatus PostAndSummarize(CommandContext& ctx, const std::string& name, std::string_view action,
                           SummaryOf summary) {
  const std::string path = "/v1/projects/" + PathSegment(name) + "/" + std::string(action);
  auto body = ctx.client.Post(path, json::object());
  if (!body) return body.error();
  return PrintObjectAnswer(ctx, *body, "POST " + path, [&](const json::object& project) {
    ctx.out << summary(project, name) << '\n';
  });
}

}  // namespace

void AddProjectCommands(CLI::App& app, Invocation& inv) {
  CLI::App* project = app.add_subcommand("project", "Projects: named groups of tasks");
  project->require_subcommand(1);
  AddProjectRepoVerbs(*project, inv);
  AddVerb(*project, inv, "list", "List projects with their tasks by state", ListProjects);
  AddVerbWithArgument(*project, inv, "show", "Show every field of one project", "NAME",
                      "Project name", ShowProject);
  AddVerbWithArgument(*project, inv, "stop",
                      "Emergency stop: pause the project's running tasks and hold its queued "
                      "ones until resumed",
                      "NAME", "Project name", StopProject);
  AddVerbWithArgument(*project, inv, "resume",
                      "Resume a stopped project: its paused and held tasks go on", "NAME",
                      "Project name", ResumeProject);
}

CliStatus CreateProject(CommandContext& ctx, const std::string& name) {
  return CreateProjectWith(ctx, name, std::nullopt);
}

CliStatus CreateProjectWith(CommandContext& ctx, const std::string& name,
                            const std::optional<json::object>& repo) {
  json::object request{{"name", name}};
  if (repo) request["repo"] = *repo;
  auto body = ctx.client.Post("/v1/projects", request);
  if (!body) return body.error();
  return PrintCreated(ctx, *body, "POST /v1/projects", "name");
}

CliStatus UpdateProjectRepo(CommandContext& ctx, const std::string& name,
                            const std::optional<json::object>& repo) {
  const std::string path = "/v1/projects/" + PathSegment(name);
  json::object request{{"repo", repo ? json::value(*repo) : json::value(nullptr)}};
  auto body = ctx.client.Call("PATCH", path, json::serialize(request));
  if (!body) return body.error();
  return PrintObjectAnswer(ctx, *body, "PATCH " + path, [&](const json::object& project) {
    const json::value* r = project.if_contains("repo");
    ctx.out << "project " << name << ": "
            << (r != nullptr && r->is_object()
                    ? "tasks work on " + StringField(r->as_object(), "url") +
                          " unless they name "
                          "a repository"
                    : std::string("no default repository"))
            << '\n';
  });
}

void AddProjectRepoVerbs(CLI::App& project, Invocation& inv) {
  struct Flags {
    std::string name;
    RepoFlags repo;
    bool no_repo = false;
  };
  auto create_flags = std::make_shared<Flags>();
  CLI::App* create = project.add_subcommand(
      "create",
      "Create a project; prints its name. With --repo, its tasks work on that "
      "repository unless they name one");
  create->add_option("NAME", create_flags->name, "Project name")->required();
  AddRepoFlags(*create, create_flags->repo);
  create->callback([&inv, f = create_flags] {
    auto repo = RepoRequest(f->repo);
    if (!repo) throw CLI::ValidationError(repo.error().message);
    inv.command = "project create";
    inv.action = [name = f->name, repo = std::move(*repo)](CommandContext& ctx) {
      return CreateProjectWith(ctx, name, repo);
    };
  });
  auto update_flags = std::make_shared<Flags>();
  CLI::App* update = project.add_subcommand(
      "update", "Change a project's default repository (--repo ...), or drop it (--no-repo)");
  update->add_option("NAME", update_flags->name, "Project name")->required();
  AddRepoFlags(*update, update_flags->repo);
  update->add_flag("--no-repo", update_flags->no_repo, "Its tasks get no repository by default");
  update->callback([&inv, f = update_flags] {
    auto repo = RepoRequest(f->repo);
    if (!repo) throw CLI::ValidationError(repo.error().message);
    if (!*repo && !f->no_repo)
      throw CLI::ValidationError("give --repo URL (and its flags) or --no-repo");
    if (*repo && f->no_repo) throw CLI::ValidationError("--repo and --no-repo exclude each other");
    inv.command = "project update";
    inv.action = [name = f->name, repo = std::move(*repo)](CommandContext& ctx) {
      return UpdateProjectRepo(ctx, name, repo);
    };
  });
}

CliStatus ListProjects(CommandContext& ctx) {
  return GetAndPrintList(
      ctx, "/v1/projects", "projects", "no projects",
      [&](const json::array& projects) { PrintProjectTable(ctx.out, projects, ctx.now_ms); });
}

CliStatus ShowProject(CommandContext& ctx, const std::string& name) {
  return CallAndPrint(ctx, "GET", "/v1/projects/" + PathSegment(name),
                      [&](const json::object& project) {
                        PrintKeyValues(ctx.out, ProjectDetails(project, ctx.now_ms));
                      });
}

CliStatus StopProject(CommandContext& ctx, const std::string& name) {
  return PostAndSummarize(ctx, name, "stop", StopSummary);
}

CliStatus ResumeProject(CommandContext& ctx, const std::string& name) {
  return PostAndSummarize(ctx, name, "resume", ResumeSummary);
}

std::string StopSummary(const json::object& project, const std::string& name) {
  return Summary(
      "stopped", project, name,
      {{"paused_tasks", "running task", "paused"}, {"held_tasks", "queued task", "held"}});
}

std::string ResumeSummary(const json::object& project, const std::string& name) {
  return Summary("resumed", project, name, {{"resumed_tasks", "task", "resumed"}});
}

void PrintProjectTable(std::ostream& out, const json::array& projects, int64_t now_ms) {
  std::vector<std::string> headers = {"NAME"};
  for (std::string_view state : kTaskStates) headers.push_back(Upper(state));
  headers.push_back("CREATED");
  Table table(std::move(headers));
  for (const auto& item : projects) {
    if (!item.is_object()) continue;
    const json::object& p = item.get_object();
    const json::object& counts = ObjectField(p, "tasks");
    std::vector<std::string> row = {OrDash(StringField(p, "name"))};
    for (std::string_view state : kTaskStates) row.push_back(Count(counts, state));
    row.push_back(AgeField(p, "created_at", now_ms));
    table.AddRow(std::move(row));
  }
  table.Print(out);
}

KeyValues ProjectDetails(const json::object& p, int64_t now_ms) {
  KeyValues lines = {
      {"name", OrDash(StringField(p, "name"))},
      {"created", TimestampField(p, "created_at", now_ms)},
      {"tasks", FormatTaskCounts(ObjectField(p, "tasks"))},
  };
  AppendOtherFields(lines, p, {"name", "created_at", "tasks"});
  return lines;
}

std::string FormatTaskCounts(const json::object& counts) {
  std::vector<std::string> parts;
  for (std::string_view state : kTaskStates) {
    if (const auto n = IntField(counts, state); n && *n != 0) {
      parts.push_back(std::to_string(*n) + " " + std::string(state));
    }
  }
  // States this CLI does not know yet still count.
  for (const auto& kv : counts) {
    const bool known =
        std::find(kTaskStates.begin(), kTaskStates.end(), kv.key()) != kTaskStates.end();
    if (!known) parts.push_back(FormatScalar(kv.value()) + " " + std::string(kv.key()));
  }
  return parts.empty() ? "none" : Join(parts, ", ");
}

}  // namespace autovibe::cli
