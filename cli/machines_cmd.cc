#include "cli/machines_cmd.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

#include "cli/client.h"
#include "cli/json_output.h"
#include "common/core/time.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr const char* kNone = "-";

std::string OrNone(std::string text) { return text.empty() ? std::string(kNone) : std::move(text); }

std::optional<uint64_t> Bytes(const json::object& resources, std::string_view key) {
  auto n = NumberField(resources, key);
  if (!n || *n < 0) return std::nullopt;
  return static_cast<uint64_t>(*n);
}

std::string BytesOrNone(const std::optional<uint64_t>& bytes) {
  return bytes ? FormatBytes(*bytes) : kNone;
}

std::string CpuCores(const json::object& resources) {
  auto n = NumberField(resources, "cpu_cores");
  return n ? std::to_string(static_cast<int64_t>(*n)) : kNone;
}

std::string Load(const json::object& resources) {
  auto n = NumberField(resources, "load1");
  if (!n) return kNone;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *n);
  return buf;
}

// "3.1G/23.4G", or with a `joiner` like " used of ".
std::string Pair(const std::optional<uint64_t>& a, const std::optional<uint64_t>& b,
                 std::string_view joiner) {
  if (!a && !b) return kNone;
  return BytesOrNone(a) + std::string(joiner) + BytesOrNone(b);
}

std::string Age(const json::object& machine, std::string_view key, int64_t now_ms) {
  auto ms = ParseRfc3339Ms(StringField(machine, key));
  return ms ? FormatAgo(*ms, now_ms) : kNone;
}

// "2026-11-22T01:39:42.123Z (3s ago)"; an unparseable time is shown as sent.
std::string Timestamp(const json::object& machine, std::string_view key, int64_t now_ms) {
  const std::string text = StringField(machine, key);
  if (text.empty()) return kNone;
  auto ms = ParseRfc3339Ms(text);
  return ms ? text + " (" + FormatAgo(*ms, now_ms) + ")" : text;
}

std::string Field(const json::object& obj, std::string_view key,
                  std::string (*format)(const json::value&)) {
  const auto* v = obj.if_contains(key);
  return v ? OrNone(format(*v)) : kNone;
}

CliResult<json::object> AsObject(const json::value& body, std::string_view request) {
  if (!body.is_object()) {
    return CliError{kExitFailure, "unexpected answer from the controller to " +
                                      std::string(request) + ": not a JSON object"};
  }
  return body.get_object();
}

}  // namespace

void AddMachineCommands(CLI::App& app, Invocation& inv) {
  CLI::App* machines = app.add_subcommand("machines", "The machines of the fleet");
  machines->require_subcommand(1);

  CLI::App* list = machines->add_subcommand("list", "List machines with their state and resources");
  list->callback([&inv] {
    inv.command = "machines list";
    inv.action = ListMachines;
  });

  CLI::App* show = machines->add_subcommand("show", "Show every field of one machine");
  auto id = std::make_shared<std::string>();
  show->add_option("ID", *id, "Machine id")->required();
  show->callback([&inv, id] {
    inv.command = "machines show";
    inv.action = [id](CommandContext& ctx) { return ShowMachine(ctx, *id); };
  });
}

CliStatus ListMachines(CommandContext& ctx) {
  auto body = ctx.client.Call("GET", "/v1/machines");
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  const json::value* machines =
      body->is_object() ? body->get_object().if_contains("machines") : nullptr;
  if (machines == nullptr || !machines->is_array()) {
    return CliError{kExitFailure,
                    "unexpected answer from the controller to GET /v1/machines: no \"machines\" "
                    "list"};
  }
  if (machines->get_array().empty()) {
    ctx.out << "no machines\n";
    return {};
  }
  PrintMachineTable(ctx.out, machines->get_array(), ctx.now_ms);
  return {};
}

CliStatus ShowMachine(CommandContext& ctx, const std::string& id) {
  const std::string path = "/v1/machines/" + PathSegment(id);
  auto body = ctx.client.Call("GET", path);
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  auto machine = AsObject(*body, "GET " + path);
  if (!machine) return machine.error();
  PrintKeyValues(ctx.out, MachineDetails(*machine, ctx.now_ms));
  return {};
}

void PrintMachineTable(std::ostream& out, const json::array& machines, int64_t now_ms) {
  Table table({"ID", "NAME", "STATE", "BACKEND", "CPUS", "MEM", "DISK FREE", "LOAD", "TOOLS",
               "LABELS", "LAST HEARTBEAT"});
  for (const auto& item : machines) {
    if (!item.is_object()) continue;
    const json::object& m = item.get_object();
    const json::object& r = ObjectField(m, "resources");
    table.AddRow({OrNone(StringField(m, "id")), OrNone(StringField(m, "name")),
                  OrNone(StringField(m, "state")), OrNone(StringField(m, "backend")), CpuCores(r),
                  Pair(Bytes(r, "mem_used_bytes"), Bytes(r, "mem_total_bytes"), "/"),
                  BytesOrNone(Bytes(r, "disk_free_bytes")), Load(r), Field(m, "tools", FormatList),
                  Field(m, "labels", FormatLabels), Age(m, "last_heartbeat_at", now_ms)});
  }
  table.Print(out);
}

KeyValues MachineDetails(const json::object& m, int64_t now_ms) {
  const json::object& r = ObjectField(m, "resources");
  KeyValues lines = {
      {"id", OrNone(StringField(m, "id"))},
      {"name", OrNone(StringField(m, "name"))},
      {"state", OrNone(StringField(m, "state"))},
      {"backend", OrNone(StringField(m, "backend"))},
      {"labels", Field(m, "labels", FormatLabels)},
      {"tools", Field(m, "tools", FormatList)},
      {"cpus", CpuCores(r)},
      {"memory", Pair(Bytes(r, "mem_used_bytes"), Bytes(r, "mem_total_bytes"), " used of ")},
      {"disk", Pair(Bytes(r, "disk_free_bytes"), Bytes(r, "disk_total_bytes"), " free of ")},
      {"load", Load(r)},
      {"agent version", OrNone(StringField(m, "agent_version"))},
      {"last heartbeat", Timestamp(m, "last_heartbeat_at", now_ms)},
      {"registered", Timestamp(m, "registered_at", now_ms)},
  };
  // Fields this CLI does not know yet (a newer controller) still show, under their API names.
  static const std::set<std::string_view> kKnown = {
      "id",    "name",      "state",         "backend",           "labels",
      "tools", "resources", "agent_version", "last_heartbeat_at", "registered_at"};
  static const std::set<std::string_view> kKnownResources = {"cpu_cores",       "mem_total_bytes",
                                                             "mem_used_bytes",  "disk_total_bytes",
                                                             "disk_free_bytes", "load1"};
  for (const auto& kv : r) {
    if (!kKnownResources.count(kv.key())) {
      lines.emplace_back("resources." + std::string(kv.key()), OrNone(FormatScalar(kv.value())));
    }
  }
  for (const auto& kv : m) {
    if (!kKnown.count(kv.key()))
      lines.emplace_back(std::string(kv.key()), OrNone(FormatScalar(kv.value())));
  }
  return lines;
}

}  // namespace autovibe::cli
