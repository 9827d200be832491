#include "controller/api/checkpoints_api.h"

#include <boost/json.hpp>

#include "common/core/time.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

json::object CheckpointToJson(const CheckpointRecord& c, const Fleet& fleet) {
  json::array copies;
  for (const auto& m : c.copies) copies.emplace_back(m);
  const MachineRecord* m = fleet.Find(c.machine_id);
  json::object o{{"id", c.id},
                 {"machine_id", c.machine_id},
                 {"machine", m != nullptr ? m->name : std::string()},
                 {"task_id", c.task_id},
                 {"attempt", c.attempt},
                 {"parent", c.parent},
                 {"trigger", c.trigger},
                 {"label", c.label},
                 {"files", c.files},
                 {"bytes", c.bytes},
                 {"stored_bytes", c.stored_bytes},
                 {"created_at", FormatRfc3339(c.created_at_ms)},
                 {"workspace", c.workspace},
                 {"copies", std::move(copies)}};
  if (c.verified_at_ms > 0) {
    o["verified_at"] = FormatRfc3339(c.verified_at_ms);
  } else {
    o["verified_at"] = nullptr;
  }
  return o;
}

json::object MachineCheckpointToJson(const MachineCheckpointRecord& c, const Fleet& fleet) {
  const MachineRecord* m = fleet.Find(c.machine_id);
  return {{"id", c.id},
          {"kind", "machine"},
          {"machine_id", c.machine_id},
          {"machine", m != nullptr ? m->name : std::string()},
          {"pool", c.pool},
          {"backend", c.backend},
          {"ref", c.ref},
          {"state", c.state},
          {"error", c.error},
          {"trigger", "manual"},
          {"created_at", FormatRfc3339(c.created_at_ms)}};
}

const char* ChangeKind(CheckpointChange::Kind k) {
  switch (k) {
    case CheckpointChange::Kind::kAdded:
      return "added";
    case CheckpointChange::Kind::kRemoved:
      return "removed";
    case CheckpointChange::Kind::kChanged:
      break;
  }
  return "changed";
}

}  // namespace

bool CheckpointsApi::Handles(const std::vector<std::string_view>& seg) {
  if (seg.size() >= 2 && seg[1] == "checkpoints") return true;
  return seg.size() == 4 && seg[1] == "machines" && seg[3] == "checkpoints";
}

const MachineRecord* CheckpointsApi::Machine(std::string_view id_or_name) const {
  if (const MachineRecord* m = deps_.fleet->Find(id_or_name)) return m;
  for (const MachineRecord* m : deps_.fleet->List()) {
    if (m->name == id_or_name) return m;
  }
  return nullptr;
}

HttpResponse CheckpointsApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                                   std::string& route, const ProjectScope& scope) {
  if (seg[1] == "machines") {
    route = "/v1/machines/{id}/checkpoints";
    if (req.method != "POST") return MethodNotAllowed("POST");
    return Create(req, seg[2]);
  }
  if (seg.size() == 2) {
    route = "/v1/checkpoints";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return List(req, scope);
  }
  if (seg.size() == 3) {
    route = "/v1/checkpoints/{id}";
    if (req.method == "GET") return Show(seg[2]);
    if (req.method == "DELETE") return Delete(seg[2]);
    return MethodNotAllowed("GET, DELETE");
  }
  if (seg.size() == 4 && seg[3] == "diff") {
    route = "/v1/checkpoints/{id}/diff";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return Diff(req, seg[2], scope);
  }
  if (seg.size() == 4 && seg[3] == "verify") {
    route = "/v1/checkpoints/{id}/verify";
    if (req.method != "POST") return MethodNotAllowed("POST");
    return Verify(seg[2]);
  }
  if (seg.size() == 4 && seg[3] == "archive") {
    route = "/v1/checkpoints/{id}/archive";
    if (req.method != "GET") return MethodNotAllowed("GET");
    if (MachineCheckpoint(seg[2]) != nullptr) {
      return JsonError(400, "bad_request",
                       "a whole-machine checkpoint has no archive: only workspace checkpoints do");
    }
    if (deps_.archives == nullptr) return JsonError(404, "not_found", "no archives here");
    return deps_.archives->Export(seg[2]);
  }
  if (seg.size() == 4 && (seg[3] == "restore" || seg[3] == "branch")) {
    route = "/v1/checkpoints/{id}/" + std::string(seg[3]);
    if (req.method != "POST") return MethodNotAllowed("POST");
    return seg[3] == "restore" ? Restore(req, seg[2], scope) : Branch(req, seg[2]);
  }
  return JsonError(404, "not_found", "no such endpoint");
}

HttpResponse CheckpointsApi::List(const HttpRequest& req, const ProjectScope& scope) {
  CheckpointFilter f;
  if (auto it = req.query.find("machine"); it != req.query.end() && !it->second.empty()) {
    const MachineRecord* m = Machine(it->second);
    if (m == nullptr) return JsonError(404, "not_found", "no machine " + Clipped(it->second));
    f.machine_id = m->id;
  }
  if (auto it = req.query.find("task"); it != req.query.end()) f.task_id = it->second;
  json::array list;
  for (const CheckpointRecord* c : deps_.checkpoints->List(f)) {
    if (scope.SeesCheckpoint(c->id)) list.push_back(CheckpointToJson(*c, *deps_.fleet));
  }
  // Machine checkpoints belong to no task, nor to any project.
  if (deps_.machines != nullptr && f.task_id.empty() && scope.Everything()) {
    for (const MachineCheckpointRecord* c : deps_.machines->Checkpoints(f.machine_id)) {
      list.push_back(MachineCheckpointToJson(*c, *deps_.fleet));
    }
  }
  return JsonResponse(200, {{"checkpoints", std::move(list)}});
}

const MachineCheckpointRecord* CheckpointsApi::MachineCheckpoint(std::string_view id) const {
  return deps_.machines == nullptr ? nullptr : deps_.machines->FindCheckpoint(id);
}

HttpResponse CheckpointsApi::CreateMachineCheckpoint(const MachineRecord& m) {
  if (deps_.machines == nullptr) {
    return JsonError(400, "bad_request",
                     "this controller provisions no machines, so it takes no machine checkpoints");
  }
  HttpResponse r;
  r.later = [this, id = m.id](auto respond) {
    auto started = deps_.machines->CheckpointMachine(
        id, [this, respond](Result<const MachineCheckpointRecord*> done) {
          if (!done) return respond(ErrorResponse(done.error()));
          respond(JsonResponse(
              201, {{"checkpoints", json::array{MachineCheckpointToJson(**done, *deps_.fleet)}}}));
        });
    if (!started) respond(ErrorResponse(started.error()));
  };
  return r;
}

HttpResponse CheckpointsApi::Show(std::string_view id) {
  if (const MachineCheckpointRecord* mc = MachineCheckpoint(id)) {
    return JsonResponse(200, MachineCheckpointToJson(*mc, *deps_.fleet));
  }
  const CheckpointRecord* c = deps_.checkpoints->Find(id);
  if (c == nullptr) return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  json::object o = CheckpointToJson(*c, *deps_.fleet);
  json::array children;
  for (const auto& child : deps_.checkpoints->Children(id)) children.emplace_back(child);
  o["children"] = std::move(children);
  return JsonResponse(200, o);
}

HttpResponse CheckpointsApi::Create(const HttpRequest& req, std::string_view machine) {
  const MachineRecord* m = Machine(machine);
  if (m == nullptr) return JsonError(404, "not_found", "no machine " + Clipped(machine));
  auto body = OptionalBody(req, {"task", "label", "kind"});
  if (!body) return ErrorResponse(body.error());
  auto task = OptionalText(*body, "task");
  if (!task) return ErrorResponse(task.error());
  auto label = OptionalText(*body, "label");
  if (!label) return ErrorResponse(label.error());
  auto kind = OptionalText(*body, "kind");
  if (!kind) return ErrorResponse(kind.error());
  if (*kind == "machine") {
    if (!task->empty() || !label->empty()) {
      return JsonError(400, "bad_request", "a machine checkpoint takes no task or label");
    }
    return CreateMachineCheckpoint(*m);
  }
  if (!kind->empty() && *kind != "workspace") {
    return JsonError(400, "bad_request", "\"kind\" must be \"workspace\" or \"machine\"");
  }
  HttpResponse r;
  r.later = [this, id = m->id, task = *task, label = *label](auto respond) {
    deps_.checkpoints->Create(id, task, label, *deps_.tasks,
                              [this, respond](Result<std::vector<CheckpointRecord>> made) {
                                if (!made) return respond(ErrorResponse(made.error()));
                                json::array list;
                                for (const auto& c : *made) {
                                  list.push_back(CheckpointToJson(c, *deps_.fleet));
                                }
                                respond(JsonResponse(201, {{"checkpoints", std::move(list)}}));
                              });
  };
  return r;
}

HttpResponse CheckpointsApi::Diff(const HttpRequest& req, std::string_view id,
                                  const ProjectScope& scope) {
  auto to = req.query.find("to");
  if (to == req.query.end() || to->second.empty()) {
    return JsonError(400, "bad_request", "say which checkpoint to compare with: ?to=ID");
  }
  if (!scope.SeesCheckpoint(to->second)) {
    return JsonError(404, "not_found", "no checkpoint " + Clipped(to->second));
  }
  HttpResponse r;
  r.later = [this, from = std::string(id), to = to->second](auto respond) {
    deps_.checkpoints->Diff(from, to, [from, to, respond](Result<CheckpointDiff> diff) {
      if (!diff) return respond(ErrorResponse(diff.error()));
      json::array list;
      for (const auto& c : diff->changes) {
        list.push_back(json::object{{"kind", ChangeKind(c.kind)}, {"path", c.path}});
      }
      const bool truncated = diff->total > list.size();
      respond(JsonResponse(200, {{"from", from},
                                 {"to", to},
                                 {"changes", std::move(list)},
                                 {"total", diff->total},
                                 {"truncated", truncated}}));
    });
  };
  return r;
}

HttpResponse CheckpointsApi::Restore(const HttpRequest& req, std::string_view id,
                                     const ProjectScope& scope) {
  if (MachineCheckpoint(id) != nullptr) return RevertMachine(req, id);
  if (deps_.checkpoints->Find(id) == nullptr) {
    return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  }
  auto body = OptionalBody(req, {"task"});
  if (!body) return ErrorResponse(body.error());
  auto task = OptionalText(*body, "task");
  if (!task) return ErrorResponse(task.error());
  if (!task->empty() && !scope.SeesTask(*task)) {
    return JsonError(404, "not_found", "no task with id " + Clipped(*task));
  }
  HttpResponse r;
  r.later = [this, id = std::string(id), task = *task](auto respond) {
    deps_.checkpoints->Restore(id, task, *deps_.tasks,
                               [this, respond](Result<RestoreOutcome> done) {
                                 if (!done) return respond(ErrorResponse(done.error()));
                                 json::object o{{"restored", done->checkpoint_id},
                                                {"task_id", done->task_id},
                                                {"machine_id", done->machine_id}};
                                 if (done->before) {
                                   o["before"] = CheckpointToJson(*done->before, *deps_.fleet);
                                 } else {
                                   o["before"] = nullptr;
                                 }
                                 respond(JsonResponse(200, o));
                               });
  };
  return r;
}

// A machine checkpoint restores its whole machine (the backend reverts it).
HttpResponse CheckpointsApi::RevertMachine(const HttpRequest& req, std::string_view id) {
  auto body = OptionalBody(req, {});
  if (!body) return ErrorResponse(body.error());
  HttpResponse r;
  r.later = [this, id = std::string(id)](auto respond) {
    auto shared = std::make_shared<std::string>();
    auto started = deps_.machines->RevertMachine(id, [id, shared, respond](Result<void> done) {
      if (!done) return respond(ErrorResponse(done.error()));
      respond(JsonResponse(200, {{"restored", id}, {"kind", "machine"}, {"machine_id", *shared}}));
    });
    if (!started) return respond(ErrorResponse(started.error()));
    *shared = (*started)->id;
  };
  return r;
}

HttpResponse CheckpointsApi::Branch(const HttpRequest& req, std::string_view id) {
  if (deps_.checkpoints->Find(id) == nullptr) {
    return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  }
  auto body = OptionalBody(req, {"to"});
  if (!body) return ErrorResponse(body.error());
  auto to = OptionalText(*body, "to");
  if (!to) return ErrorResponse(to.error());
  // No "to": a machine that lacks it is chosen.
  const MachineRecord* m = to->empty() ? nullptr : Machine(*to);
  if (!to->empty() && m == nullptr)
    return JsonError(404, "not_found", "no machine " + Clipped(*to));
  HttpResponse r;
  r.later = [this, id = std::string(id), machine = m == nullptr ? "" : m->id](auto respond) {
    deps_.checkpoints->Branch(id, machine, [this, respond](Result<BranchOutcome> done) {
      if (!done) return respond(ErrorResponse(done.error()));
      respond(JsonResponse(200, {{"checkpoint", CheckpointToJson(done->checkpoint, *deps_.fleet)},
                                 {"machine_id", done->machine_id},
                                 {"objects", done->transfer.objects},
                                 {"sent_objects", done->transfer.sent_objects},
                                 {"sent_bytes", done->transfer.sent_bytes}}));
    });
  };
  return r;
}

HttpResponse CheckpointsApi::Verify(std::string_view id) {
  if (deps_.checkpoints->Find(id) == nullptr) {
    return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  }
  HttpResponse r;
  r.later = [this, id = std::string(id)](auto respond) {
    deps_.checkpoints->Verify(id, [this, respond](Result<CheckpointRecord> done) {
      if (!done) return respond(ErrorResponse(done.error()));
      respond(JsonResponse(200, CheckpointToJson(*done, *deps_.fleet)));
    });
  };
  return r;
}

HttpResponse CheckpointsApi::Delete(std::string_view id) {
  if (MachineCheckpoint(id) != nullptr) {
    HttpResponse r;
    r.later = [this, id = std::string(id)](auto respond) {
      auto started = deps_.machines->DeleteCheckpoint(id, [id, respond](Result<void> done) {
        if (!done) return respond(ErrorResponse(done.error()));
        respond(JsonResponse(200, {{"deleted", id}, {"removed", json::array{id}}}));
      });
      if (!started) respond(ErrorResponse(started.error()));
    };
    return r;
  }
  if (deps_.checkpoints->Find(id) == nullptr) {
    return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  }
  HttpResponse r;
  r.later = [this, id = std::string(id)](auto respond) {
    deps_.checkpoints->Delete(
        id, *deps_.tasks, [id, respond](Result<std::vector<std::string>> removed) {
          if (!removed) return respond(ErrorResponse(removed.error()));
          json::array list;
          for (const auto& r : *removed) list.emplace_back(r);
          respond(JsonResponse(200, {{"deleted", id}, {"removed", std::move(list)}}));
        });
  };
  return r;
}

}  // namespace autovibe
