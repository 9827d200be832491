#include "cli/audit_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>
#include <vector>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "common/audit/audit_chain.h"
#include "common/audit/audit_json.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr int kPage = 1000;

std::string ObjectText(const json::object& r) {
  const json::object& o = ObjectField(r, "object");
  const std::string kind = StringField(o, "kind");
  const std::string id = StringField(o, "id");
  if (kind.empty()) return OrDash(id);
  return id.empty() ? kind : kind + "/" + id;
}

// "201", "ok", or "409 the task is final" (the error clipped to keep the table narrow).
std::string ResultText(const json::object& r) {
  const auto status = IntField(r, "status");
  std::string out = status && *status > 0 ? std::to_string(*status) : StringField(r, "result");
  std::string error = StringField(r, "error");
  if (!error.empty()) {
    if (error.size() > 60) error = error.substr(0, 57) + "...";
    out += " " + error;
  }
  return out;
}

void PrintAuditTable(std::ostream& out, const json::array& records) {
  Table table({"SEQ", "TIME", "ACTOR", "ACTION", "OBJECT", "PROJECT", "FROM", "RESULT"});
  for (const auto& item : records) {
    if (!item.is_object()) continue;
    const json::object& r = item.get_object();
    const auto seq = IntField(r, "seq");
    table.AddRow({seq ? std::to_string(*seq) : "-", OrDash(StringField(r, "at")),
                  OrDash(StringField(r, "actor")), OrDash(StringField(r, "action")), ObjectText(r),
                  OrDash(StringField(r, "project")), OrDash(StringField(r, "remote_address")),
                  OrDash(ResultText(r))});
  }
  table.Print(out);
}

// Fetches every record, oldest first, and checks the chain from the anchor of the first page.
CliResult<json::object> VerifyHere(CommandContext& ctx) {
  std::optional<AuditAnchor> anchor;
  std::optional<AuditChainCheck> check;
  std::string cursor;
  while (true) {
    std::string path = "/v1/audit?order=asc&limit=" + std::to_string(kPage);
    if (!cursor.empty()) path += "&cursor=" + PathSegment(cursor);
    auto body = ctx.client.Call("GET", path);
    if (!body) return body.error();
    auto list = ExpectList(*body, "records", "GET " + path);
    if (!list) return list.error();
    if (!anchor) {
      auto a = AuditAnchorFromJson(ObjectField(body->get_object(), "anchor"));
      if (!a) return CliError{kExitFailure, "GET " + path + ": " + a.error().message};
      anchor = *a;
      check.emplace(*anchor);
    }
    for (const auto& item : **list) {
      auto r = AuditRecordFromJson(item);
      if (!r) {
        // A record that cannot be read back is one that was tampered with.
        const auto seq = item.is_object() ? IntField(item.get_object(), "seq") : std::nullopt;
        json::object out = AuditVerifyJson(*anchor, *check);
        out["ok"] = false;
        out["broken"] = json::object{{"seq", seq.value_or(check->last_seq() + 1)},
                                     {"problem", "record cannot be read: " + r.error().message}};
        return out;
      }
      if (check->Next(*r)) return AuditVerifyJson(*anchor, *check);
    }
    cursor = StringField(body->get_object(), "next_cursor");
    if (cursor.empty()) return AuditVerifyJson(*anchor, *check);
  }
}

}  // namespace

void AddAuditCommands(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* audit = app.add_subcommand(
      "audit",
      "Show the audit log: who changed what, from where, with what result, and what the "
      "controller decided by itself (actor controller:<rule>); newest first");
  audit->require_subcommand(0, 1);
  audit->add_option("--actor", f->actor, "Only this token's records, or 'controller' (any rule)")
      ->type_name("A");
  audit->add_option("--project", f->project, "Only records of this project")->type_name("P");
  audit->add_option("--object", f->object, "Only this object: KIND/ID (task/t-1), KIND/ or ID")
      ->type_name("O");
  audit->add_option("--since", f->since, "Only since this time (2026-05-01T00:00:00Z) or 1h ago")
      ->type_name("TIME|DURATION");
  audit->add_option("--until", f->until, "Only before this time or duration ago")
      ->type_name("TIME|DURATION");
  audit->add_option("--limit", f->limit, "At most this many records (1-1000; default 100)")
      ->check(CLI::Range(1, 1000));
  audit->add_option("--cursor", f->cursor, "Go on from an earlier answer's next_cursor")
      ->type_name("C");
  auto on_server = std::make_shared<bool>(false);
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Fetch every record and recompute the hash chain here; exit 1 naming the first record "
      "that was changed, removed or reordered");
  verify->add_flag("--server", *on_server,
                   "Ask the controller to recompute the chain over its database instead");
  verify->callback([&inv, on_server] {
    inv.command = "audit verify";
    inv.action = [on_server](CommandContext& ctx) { return VerifyAudit(ctx, *on_server); };
  });
  audit->callback([&inv, audit, verify, f] {
    if (audit->got_subcommand(verify)) return;
    inv.command = "audit";
    inv.action = [f](CommandContext& ctx) { return ListAudit(ctx, *f); };
  });
}

std::string AuditPath(const AuditFlags& f) {
  std::vector<std::string> query;
  auto add = [&](const char* key, const std::string& v) {
    if (!v.empty()) query.push_back(std::string(key) + "=" + PathSegment(v));
  };
  add("actor", f.actor);
  add("project", f.project);
  add("object", f.object);
  add("since", f.since);
  add("until", f.until);
  if (f.limit > 0) add("limit", std::to_string(f.limit));
  add("cursor", f.cursor);
  return "/v1/audit" + (query.empty() ? "" : "?" + Join(query, "&"));
}

CliStatus ListAudit(CommandContext& ctx, const AuditFlags& f) {
  const std::string path = AuditPath(f);
  auto body = ctx.client.Call("GET", path);
  if (!body) return body.error();
  return PrintListAnswer(ctx, *body, "records", "GET " + path, [&](const json::array& records) {
    if (records.empty()) {
      ctx.out << "no audit records\n";
      return;
    }
    PrintAuditTable(ctx.out, records);
    const std::string next = StringField(body->get_object(), "next_cursor");
    if (!next.empty()) ctx.out << "(older records: --cursor " << next << ")\n";
  });
}

CliStatus VerifyAudit(CommandContext& ctx, bool on_server) {
  CliResult<json::object> found = CliError{};
  if (on_server) {
    auto body = ctx.client.Call("GET", "/v1/audit/verify");
    if (!body) return body.error();
    auto o = ExpectObject(*body, "GET /v1/audit/verify");
    if (!o) return o.error();
    found = **o;
  } else {
    found = VerifyHere(ctx);
    // Retention may have moved the anchor while the pages came: one fresh look.
    if (found && !found->at("ok").as_bool()) found = VerifyHere(ctx);
  }
  if (!found) return found.error();
  const json::object& v = *found;
  const bool ok = v.at("ok").as_bool();
  if (ctx.options.json) {
    PrintJson(ctx.out, v);
  } else if (ok) {
    const auto checked = IntField(v, "checked").value_or(0);
    ctx.out << "audit log intact: " << checked << " records";
    if (checked > 0) {
      ctx.out << " (" << IntField(v, "first_seq").value_or(0) << ".."
              << IntField(v, "last_seq").value_or(0) << ")";
    }
    const auto anchor_seq = IntField(ObjectField(v, "anchor"), "seq").value_or(0);
    if (anchor_seq > 0) ctx.out << ", after " << anchor_seq << " removed by retention";
    ctx.out << "\nhead " << StringField(v, "head_hash") << "\n";
  }
  if (ok) return {};
  const json::object& broken = ObjectField(v, "broken");
  return CliError{kExitFailure, "audit log broken at record " +
                                    std::to_string(IntField(broken, "seq").value_or(0)) + ": " +
                                    StringField(broken, "problem")};
}

}  // namespace autovibe::cli
