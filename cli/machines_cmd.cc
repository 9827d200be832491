#include "cli/machines_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "cli/client.h"
#include "cli/join_token_cmd.h"
#include "cli/json_output.h"
#include "common/core/duration.h"
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
  auto all = std::make_shared<bool>(false);
  list->add_flag("--all", *all, "Terminated machines too");
  list->callback([&inv, all] {
    inv.command = "machines list";
    inv.action = [all](CommandContext& ctx) { return ListMachines(ctx, *all); };
  });

  CLI::App* show = machines->add_subcommand("show", "Show every field of one machine");
  auto id = std::make_shared<std::string>();
  show->add_option("ID", *id, "Machine id")->required();
  show->callback([&inv, id] {
    inv.command = "machines show";
    inv.action = [id](CommandContext& ctx) { return ShowMachine(ctx, *id); };
  });

  CLI::App* spawn = machines->add_subcommand("spawn", "Provision a new machine in a pool");
  auto so = std::make_shared<SpawnOptions>();
  spawn->add_option("--pool", so->pool, "Pool to grow (needed when the controller has several)");
  spawn->add_option("--from-checkpoint", so->from_checkpoint,
                    "Machine checkpoint to clone the new machine from");
  spawn->add_flag("--wait", so->wait, "Wait until its agent is ready (or the spawn failed)");
  spawn->add_option("--timeout", so->timeout, "How long --wait waits [5m]");
  spawn->callback([&inv, so] {
    inv.command = "machines spawn";
    inv.action = [so](CommandContext& ctx) { return SpawnMachine(ctx, *so); };
  });

  for (auto [verb, help] : {std::pair{"drain",
                                      "Take no new tasks; a pool machine is retired "
                                      "once its tasks are done"},
                            {"terminate",
                             "Stop the machine now and remove it (its running tasks "
                             "go back to the queue)"}}) {
    CLI::App* sub = machines->add_subcommand(verb, help);
    auto target = std::make_shared<std::string>();
    sub->add_option("ID", *target, "Machine id or name")->required();
    sub->callback([&inv, target, verb = std::string(verb)] {
      inv.command = "machines " + verb;
      inv.action = [target, verb](CommandContext& ctx) {
        return verb == "drain" ? DrainMachine(ctx, *target) : TerminateMachine(ctx, *target);
      };
    });
  }

  CLI::App* pools = machines->add_subcommand("pools", "List the pools the controller provisions");
  pools->callback([&inv] {
    inv.command = "machines pools";
    inv.action = ListPools;
  });

  AddJoinTokenCommands(*machines, inv);
}

CliStatus SpawnMachine(CommandContext& ctx, const SpawnOptions& o) {
  json::object req;
  if (!o.pool.empty()) req["pool"] = o.pool;
  if (!o.from_checkpoint.empty()) req["from_checkpoint"] = o.from_checkpoint;
  auto timeout = ParseDuration(o.timeout);
  if (!timeout || timeout->count() <= 0) {
    return CliError{kExitUsage, "--timeout: expected a duration like 90s or 5m"};
  }
  auto body = ctx.client.Post("/v1/machines", req);
  if (!body) return body.error();
  if (!o.wait) return PrintCreated(ctx, *body, "POST /v1/machines", "id");
  auto machine = AsObject(*body, "POST /v1/machines");
  if (!machine) return machine.error();
  const std::string id = StringField(*machine, "id");
  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  for (;;) {
    auto now = ctx.client.Call("GET", "/v1/machines/" + PathSegment(id));
    if (!now) return now.error();
    auto m = AsObject(*now, "GET /v1/machines/" + id);
    if (!m) return m.error();
    const std::string state = StringField(*m, "state");
    if (state == "ready" || state == "busy") {
      if (ctx.options.json) {
        PrintJson(ctx.out, *now);
      } else {
        ctx.out << id << "\n";
      }
      return {};
    }
    if (state == "failed" || state == "terminated") {
      return CliError{kExitFailure, "machine " + StringField(*m, "name") + " (" + id + ") " +
                                        state + "; the controller's events say why"};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return CliError{kExitFailure, "machine " + id + " is still " + state + " after " + o.timeout +
                                        " (it keeps coming up)"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

namespace {

CliStatus MachineAction(CommandContext& ctx, const std::string& target, std::string_view method,
                        std::string_view suffix, std::string_view what) {
  const std::string path = "/v1/machines/" + PathSegment(target) + std::string(suffix);
  auto body = ctx.client.Call(method, path);
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  auto m = AsObject(*body, std::string(method) + " " + path);
  if (!m) return m.error();
  ctx.out << "machine " << StringField(*m, "name") << " (" << StringField(*m, "id") << ") " << what
          << "; now " << StringField(*m, "state") << "\n";
  return {};
}

}  // namespace

CliStatus DrainMachine(CommandContext& ctx, const std::string& target) {
  return MachineAction(ctx, target, "POST", "/drain", "draining");
}

CliStatus TerminateMachine(CommandContext& ctx, const std::string& target) {
  return MachineAction(ctx, target, "DELETE", "", "terminating");
}

CliStatus ListPools(CommandContext& ctx) {
  return GetAndPrintList(
      ctx, "/v1/pools", "pools",
      "no pools (add a [[pool]] to the "
      "controller's config)",
      [&ctx](const json::array& pools) {
        Table table({"POOL", "BACKEND", "MACHINES", "STARTING", "MIN", "MAX", "IDLE TIMEOUT",
                     "LABELS", "LAST ERROR"});
        for (const auto& item : pools) {
          if (!item.is_object()) continue;
          const json::object& p = item.get_object();
          table.AddRow({OrNone(StringField(p, "name")), OrNone(StringField(p, "backend")),
                        Field(p, "machines", FormatScalar), Field(p, "starting", FormatScalar),
                        Field(p, "min", FormatScalar), Field(p, "max", FormatScalar),
                        OrNone(StringField(p, "idle_timeout")), Field(p, "labels", FormatLabels),
                        OrNone(StringField(p, "last_error"))});
        }
        table.Print(ctx.out);
      });
}

CliStatus ListMachines(CommandContext& ctx, bool all) {
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
  json::array shown;
  size_t hidden = 0;
  for (const auto& m : machines->get_array()) {
    if (!all && m.is_object() && StringField(m.get_object(), "state") == "terminated") {
      ++hidden;
      continue;
    }
    shown.push_back(m);
  }
  if (shown.empty()) {
    ctx.out << "no machines";
  } else {
    PrintMachineTable(ctx.out, shown, ctx.now_ms);
  }
  if (hidden > 0)
    ctx.out << (shown.empty() ? " (" : "(") << hidden << " terminated; --all shows them)";
  if (shown.empty() || hidden > 0) ctx.out << "\n";
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
  // What the agent's workspaces and repositories take of its disk (agents that report it).
  auto after_load =
      std::find_if(lines.begin(), lines.end(), [](const auto& kv) { return kv.first == "load"; });
  if (after_load != lines.end()) ++after_load;
  for (auto [key, label] :
       {std::pair{"repos_bytes", "repositories"}, std::pair{"workspaces_bytes", "workspaces"}}) {
    if (r.contains(key)) after_load = lines.insert(after_load, {label, BytesOrNone(Bytes(r, key))});
  }
  // What only machines the controller made have.
  for (auto [key, label] :
       {std::pair{"pool", "pool"}, {"instance", "instance"}, {"spawned_from", "spawned from"}}) {
    if (const std::string v = StringField(m, key); !v.empty()) lines.emplace_back(label, v);
  }
  if (!StringField(m, "pool").empty()) {
    lines.emplace_back("created", Timestamp(m, "created_at", now_ms));
  }
  // Fields this CLI does not know yet (a newer controller) still show, under their API names.
  static const std::set<std::string_view> kKnown = {"id",
                                                    "name",
                                                    "state",
                                                    "backend",
                                                    "pool",
                                                    "instance",
                                                    "spawned_from",
                                                    "labels",
                                                    "tools",
                                                    "resources",
                                                    "agent_version",
                                                    "last_heartbeat_at",
                                                    "registered_at",
                                                    "created_at"};
  static const std::set<std::string_view> kKnownResources = {
      "cpu_cores",       "mem_total_bytes", "mem_used_bytes",   "disk_total_bytes",
      "disk_free_bytes", "load1",           "workspaces_bytes", "repos_bytes"};
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
