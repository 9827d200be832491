#include "cli/checkpoint_cmd.h"

#include <CLI/CLI.hpp>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "cli/checkpoint_export.h"
#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/verbs.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

std::string CheckpointPath(const std::string& id) { return "/v1/checkpoints/" + PathSegment(id); }

// Runs `verb` with a client that waits as long as the controller does for its agents (a
// restore writes a whole workspace; the controller answers 504 after 10 minutes).
template <class Verb>
CliStatus WaitingOnAgents(CommandContext& ctx, Verb verb) {
  const Client patient = ctx.client.WithTimeout(std::chrono::minutes(11));
  CommandContext waiting{patient, ctx.options, ctx.out, ctx.now_ms};
  return verb(waiting);
}

std::string IntOrDash(const json::object& obj, std::string_view key) {
  const auto n = IntField(obj, key);
  return n ? std::to_string(*n) : "-";
}

// A byte count as people read it ("12.3M"); "-" when missing or negative.
std::string BytesOrDash(const json::object& obj, std::string_view key) {
  const auto n = IntField(obj, key);
  return n && *n >= 0 ? FormatBytes(static_cast<uint64_t>(*n)) : "-";
}

std::string ListOrDash(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v ? OrDash(FormatList(*v)) : "-";
}

// The machine's name in a table, "worker-1 (m-1a2b)" in details; its id when it has no name.
std::string MachineName(const json::object& c) {
  const std::string name = StringField(c, "machine");
  return OrDash(name.empty() ? StringField(c, "machine_id") : name);
}

std::string MachineNameAndId(const json::object& c) {
  const std::string name = StringField(c, "machine"), id = StringField(c, "machine_id");
  if (!name.empty() && !id.empty() && name != id) return name + " (" + id + ")";
  return MachineName(c);
}

// `key`, else what the user asked for.
std::string FieldOr(const json::object& obj, std::string_view key, const std::string& asked) {
  const std::string value = StringField(obj, key);
  return value.empty() ? asked : value;
}

// A JSON body with the fields that are not empty.
json::object BodyOf(std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  json::object body;
  for (const auto& [key, value] : fields) {
    if (!value.empty()) body[key] = value;
  }
  return body;
}

// POSTs `body` to `path` and prints the answer: its JSON with --json, else `human(answer)`.
CliStatus PostAndPrint(CommandContext& ctx, const std::string& path, const json::object& body,
                       const ObjectPrinter& human) {
  auto answer = ctx.client.Post(path, body);
  if (!answer) return answer.error();
  return PrintObjectAnswer(ctx, *answer, "POST " + path, human);
}

void AddListVerb(CLI::App& checkpoint, Invocation& inv) {
  auto machine = std::make_shared<std::string>();
  auto task = std::make_shared<std::string>();
  CLI::App* list = AddVerb(
      checkpoint, inv, "list", "List checkpoints, oldest first",
      [machine, task](CommandContext& ctx) { return ListCheckpoints(ctx, *machine, *task); });
  list->add_option("--machine", *machine,
                   "Only checkpoints this machine took or holds a copy of (id or name)")
      ->type_name("M");
  list->add_option("--task", *task, "Only checkpoints of this task")->type_name("T");
}

void AddCreateVerb(CLI::App& checkpoint, Invocation& inv) {
  auto machine = std::make_shared<std::string>();
  auto task = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  auto kind = std::make_shared<std::string>("workspace");
  auto old_switch = std::make_shared<bool>(false);
  CLI::App* create = AddVerb(
      checkpoint, inv, "create",
      "Checkpoint the workspaces of a machine's tasks now (or, with --kind machine, the "
      "whole machine); prints the new ids",
      [machine, task, label, kind, old_switch](CommandContext& ctx) {
        return CreateCheckpoints(ctx, *machine, *task, *label, *kind == "machine" || *old_switch);
      });
  // What --kind machine was called before; kept for scripts, not shown.
  create->add_flag("--machine", *old_switch, "Same as --kind machine")->group("");
  create
      ->add_option("--kind", *kind,
                   "workspace: its tasks' workspaces [default]; machine: the whole machine "
                   "(docker, libvirt, proxmox pools), which `machines spawn --from-checkpoint` "
                   "starts new machines from")
      ->type_name("KIND")
      ->check(CLI::IsMember({"workspace", "machine"}));
  create->add_option("MACHINE", *machine, "Machine id or name")->required();
  create->add_option("--task", *task, "Only this task's workspace")->type_name("T");
  create->add_option("--label", *label, "A label to find the checkpoint by")->type_name("L");
}

void AddRestoreVerb(CLI::App& checkpoint, Invocation& inv) {
  auto id = std::make_shared<std::string>();
  auto task = std::make_shared<std::string>();
  CLI::App* restore =
      AddVerb(checkpoint, inv, "restore",
              "Put a task's workspace back as it was at a checkpoint (the workspace as it is is "
              "checkpointed first); a machine checkpoint reverts its whole machine",
              [id, task](CommandContext& ctx) { return RestoreCheckpoint(ctx, *id, *task); });
  restore->add_option("CP", *id, "Checkpoint id")->required();
  restore->add_option("--task", *task, "The task whose workspace it goes into (default: its own)")
      ->type_name("T");
}

void AddBranchVerb(CLI::App& checkpoint, Invocation& inv) {
  auto id = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  CLI::App* branch =
      AddVerb(checkpoint, inv, "branch",
              "Copy a checkpoint onto another machine (only what it lacks travels), to start tasks "
              "from it there",
              [id, to](CommandContext& ctx) { return BranchCheckpoint(ctx, *id, *to); });
  branch->add_option("CP", *id, "Checkpoint id")->required();
  branch->add_option("--to", *to, "Machine id or name [a ready machine that lacks it]")
      ->type_name("MACHINE");
}

void AddDiffVerb(CLI::App& checkpoint, Invocation& inv) {
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  CLI::App* diff =
      AddVerb(checkpoint, inv, "diff", "List the files that differ between two checkpoints",
              [from, to](CommandContext& ctx) { return DiffCheckpoints(ctx, *from, *to); });
  diff->add_option("CP1", *from, "Checkpoint id: the old side")->required();
  diff->add_option("CP2", *to, "Checkpoint id: the new side")->required();
}

void AddExportVerb(CLI::App& checkpoint, Invocation& inv) {
  auto id = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* export_verb =
      AddVerb(checkpoint, inv, "export",
              "Write a workspace checkpoint as a tar archive compressed with zstd (extract it with "
              "`tar --zstd -xf FILE`), from whichever machine holds it",
              [id, output](CommandContext& ctx) { return ExportCheckpoint(ctx, *id, *output); });
  export_verb->add_option("CP", *id, "Checkpoint id")->required();
  export_verb
      ->add_option("-o,--output", *output, "Where to write it; - for standard output [CP.tar.zst]")
      ->type_name("FILE");
}

}  // namespace

void AddCheckpointCommands(CLI::App& app, Invocation& inv) {
  CLI::App* checkpoint =
      app.add_subcommand("checkpoint", "Workspace checkpoints: take, restore, branch, compare");
  checkpoint->require_subcommand(1);
  AddListVerb(*checkpoint, inv);
  AddCreateVerb(*checkpoint, inv);
  AddVerbWithArgument(*checkpoint, inv, "show", "Show every field of one checkpoint", "CP",
                      "Checkpoint id", ShowCheckpoint);
  AddRestoreVerb(*checkpoint, inv);
  AddBranchVerb(*checkpoint, inv);
  AddDiffVerb(*checkpoint, inv);
  AddExportVerb(*checkpoint, inv);
  AddVerbWithArgument(*checkpoint, inv, "verify",
                      "Re-read every chunk of a checkpoint and check its hash", "CP",
                      "Checkpoint id", VerifyCheckpoint);
  AddVerbWithArgument(*checkpoint, inv, "delete",
                      "Delete a checkpoint from every machine that holds it", "CP", "Checkpoint id",
                      DeleteCheckpoint);
}

CliStatus ListCheckpoints(CommandContext& ctx, const std::string& machine,
                          const std::string& task) {
  std::vector<std::string> filters;
  if (!machine.empty()) filters.push_back("machine=" + PathSegment(machine));
  if (!task.empty()) filters.push_back("task=" + PathSegment(task));
  const std::string path = "/v1/checkpoints" + (filters.empty() ? "" : "?" + Join(filters, "&"));
  return GetAndPrintList(ctx, path, "checkpoints", "no checkpoints",
                         [&](const json::array& list) { PrintCheckpointTable(ctx.out, list); });
}

CliStatus CreateCheckpoints(CommandContext& ctx, const std::string& machine,
                            const std::string& task, const std::string& label, bool whole_machine) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) -> CliStatus {
    const std::string path = "/v1/machines/" + PathSegment(machine) + "/checkpoints";
    auto answer = ctx.client.Post(
        path, BodyOf({{"task", task},
                      {"label", label},
                      {"kind", whole_machine ? std::string("machine") : std::string()}}));
    if (!answer) return answer.error();
    return PrintListAnswer(ctx, *answer, "checkpoints", "POST " + path,
                           [&](const json::array& made) {
                             for (const json::value& c : made) {
                               if (c.is_object()) {
                                 ctx.out << OrDash(StringField(c.get_object(), "id")) << '\n';
                               }
                             }
                           });
  });
}

CliStatus ShowCheckpoint(CommandContext& ctx, const std::string& id) {
  return CallAndPrint(ctx, "GET", CheckpointPath(id), [&](const json::object& c) {
    PrintKeyValues(ctx.out, CheckpointDetails(c, ctx.now_ms));
  });
}

CliStatus RestoreCheckpoint(CommandContext& ctx, const std::string& id, const std::string& task) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) {
    return PostAndPrint(
        ctx, CheckpointPath(id) + "/restore", BodyOf({{"task", task}}),
        [&](const json::object& answer) { ctx.out << RestoreSummary(answer, id) << '\n'; });
  });
}

CliStatus BranchCheckpoint(CommandContext& ctx, const std::string& id, const std::string& machine) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) {
    return PostAndPrint(
        ctx, CheckpointPath(id) + "/branch", BodyOf({{"to", machine}}),
        [&](const json::object& answer) { ctx.out << BranchSummary(answer, id, machine) << '\n'; });
  });
}

CliStatus VerifyCheckpoint(CommandContext& ctx, const std::string& id) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) {
    return PostAndPrint(ctx, CheckpointPath(id) + "/verify", json::object(),
                        [&](const json::object& answer) {
                          ctx.out << "checkpoint " << FieldOr(answer, "id", id)
                                  << " verified: every chunk re-read and its hash checked\n";
                        });
  });
}

CliStatus DiffCheckpoints(CommandContext& ctx, const std::string& from, const std::string& to) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) -> CliStatus {
    const std::string path = CheckpointPath(from) + "/diff?to=" + PathSegment(to);
    auto answer = ctx.client.Call("GET", path);
    if (!answer) return answer.error();
    return PrintListAnswer(ctx, *answer, "changes", "GET " + path,
                           [&](const json::array& changes) { PrintChanges(ctx.out, changes); });
  });
}

CliStatus DeleteCheckpoint(CommandContext& ctx, const std::string& id) {
  return WaitingOnAgents(ctx, [&](CommandContext& ctx) {
    return CallAndPrint(ctx, "DELETE", CheckpointPath(id), [&](const json::object& answer) {
      ctx.out << "deleted " << FieldOr(answer, "deleted", id) << '\n';
    });
  });
}

void PrintCheckpointTable(std::ostream& out, const json::array& checkpoints) {
  Table table({"ID", "TASK", "MACHINE", "TRIGGER", "FILES", "SIZE", "CREATED", "PARENT"});
  for (const json::value& item : checkpoints) {
    if (!item.is_object()) continue;
    const json::object& c = item.get_object();
    table.AddRow({OrDash(StringField(c, "id")), OrDash(StringField(c, "task_id")), MachineName(c),
                  OrDash(StringField(c, "trigger")), IntOrDash(c, "files"), BytesOrDash(c, "bytes"),
                  OrDash(StringField(c, "created_at")), OrDash(StringField(c, "parent"))});
  }
  table.Print(out);
}

KeyValues CheckpointDetails(const json::object& c, int64_t now_ms) {
  KeyValues lines = {
      {"id", OrDash(StringField(c, "id"))},
      {"task_id", OrDash(StringField(c, "task_id"))},
      {"machine", MachineNameAndId(c)},
      {"trigger", OrDash(StringField(c, "trigger"))},
      {"label", OrDash(StringField(c, "label"))},
      {"parent", OrDash(StringField(c, "parent"))},
      {"children", ListOrDash(c, "children")},
      {"files", IntOrDash(c, "files")},
      {"bytes", BytesOrDash(c, "bytes")},
      {"stored_bytes", BytesOrDash(c, "stored_bytes")},
      {"created_at", TimestampField(c, "created_at", now_ms)},
      {"verified_at", TimestampField(c, "verified_at", now_ms)},
      {"workspace", OrDash(StringField(c, "workspace"))},
      {"copies", ListOrDash(c, "copies")},
  };
  AppendOtherFields(
      lines, c,
      {"id", "task_id", "machine", "machine_id", "trigger", "label", "parent", "children", "files",
       "bytes", "stored_bytes", "created_at", "verified_at", "workspace", "copies"});
  return lines;
}

std::string RestoreSummary(const json::object& answer, const std::string& id) {
  if (StringField(answer, "kind") == "machine") {
    return "reverted machine " + OrDash(StringField(answer, "machine_id")) + " to checkpoint " +
           FieldOr(answer, "restored", id) + ": it boots again from that disk";
  }
  std::string text = "restored " + FieldOr(answer, "restored", id) + " into the workspace";
  if (const std::string task = StringField(answer, "task_id"); !task.empty()) {
    text += " of task " + task;
  }
  if (const std::string machine = StringField(answer, "machine_id"); !machine.empty()) {
    text += " on machine " + machine;
  }
  const json::object& before = ObjectField(answer, "before");
  if (!before.empty()) {
    text += "\nthe workspace as it was is checkpoint " + OrDash(StringField(before, "id"));
  }
  return text;
}

std::string BranchSummary(const json::object& answer, const std::string& id,
                          const std::string& machine) {
  const json::object& checkpoint = ObjectField(answer, "checkpoint");
  return "checkpoint " + FieldOr(checkpoint, "id", id) + " is on machine " +
         FieldOr(answer, "machine_id", OrDash(machine)) + " (sent " +
         IntOrDash(answer, "sent_objects") + " of " + IntOrDash(answer, "objects") + " objects, " +
         BytesOrDash(answer, "sent_bytes") + ")";
}

void PrintChanges(std::ostream& out, const json::array& changes) {
  for (const json::value& item : changes) {
    if (!item.is_object()) continue;
    const json::object& change = item.get_object();
    const std::string kind = StringField(change, "kind");
    const char* letter = kind == "added"     ? "A"
                         : kind == "removed" ? "D"
                         : kind == "changed" ? "M"
                                             : "?";
    out << letter << ' ' << StringField(change, "path") << '\n';
  }
}

}  // namespace autovibe::cli
