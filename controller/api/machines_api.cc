#include "controller/api/machines_api.h"

#include <boost/json.hpp>

#include "common/core/duration.h"
#include "controller/api/machine_json.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

HttpResponse NoProvisioning() {
  return JsonError(404, "not_found",
                   "this controller provisions no machines: add a [[pool]] to its config");
}

}  // namespace

bool MachinesApi::Handles(const std::vector<std::string_view>& seg) {
  if (seg.size() == 2 && seg[1] == "pools") return true;
  if (seg.size() < 2 || seg[1] != "machines") return false;
  return seg.size() <= 3 || (seg.size() == 4 && seg[3] == "drain");
}

const MachineRecord* MachinesApi::Find(std::string_view id_or_name) const {
  if (const MachineRecord* m = d_.fleet->Find(id_or_name)) return m;
  return d_.fleet->FindByName(id_or_name);
}

HttpResponse MachinesApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                                std::string& route) {
  if (seg[1] == "pools") {
    route = "/v1/pools";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return Pools();
  }
  if (seg.size() == 2) {
    route = "/v1/machines";
    if (req.method == "POST") return Spawn(req);
    if (req.method != "GET") return MethodNotAllowed("GET, POST");
    json::array list;
    for (const MachineRecord* m : d_.fleet->List()) list.push_back(MachineToJson(*m));
    return JsonResponse(200, {{"machines", std::move(list)}});
  }
  const MachineRecord* m = Find(seg[2]);
  if (seg.size() == 4) {
    route = "/v1/machines/{id}/drain";
    if (req.method != "POST") return MethodNotAllowed("POST");
  } else {
    route = "/v1/machines/{id}";
    if (req.method != "GET" && req.method != "DELETE") return MethodNotAllowed("GET, DELETE");
  }
  if (m == nullptr) return JsonError(404, "not_found", "no machine with id " + Clipped(seg[2]));
  if (req.method == "GET") return JsonResponse(200, MachineToJson(*m));
  if (d_.machines == nullptr) return NoProvisioning();
  auto r = seg.size() == 4 ? d_.machines->Drain(m->id)
                           : d_.machines->Terminate(m->id, "terminated through the API");
  if (!r) return ErrorResponse(r.error());
  if (auto c = d_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(202, MachineToJson(**r));
}

HttpResponse MachinesApi::Spawn(const HttpRequest& req) {
  if (d_.machines == nullptr) return NoProvisioning();
  auto body = OptionalBody(req, {"pool", "backend", "from_checkpoint"});
  if (!body) return ErrorResponse(body.error());
  SpawnRequest s;
  for (auto [key, out] : {std::pair{"pool", &s.pool}, {"backend", &s.backend}}) {
    auto v = OptionalText(*body, key);
    if (!v) return ErrorResponse(v.error());
    *out = std::move(*v);
  }
  auto from = OptionalText(*body, "from_checkpoint");
  if (!from) return ErrorResponse(from.error());
  s.from_checkpoint = std::move(*from);
  s.why = s.from_checkpoint.empty() ? "requested through the API"
                                    : "requested through the API from " + s.from_checkpoint;
  auto m = d_.machines->Spawn(s);
  if (!m) return ErrorResponse(m.error());
  if (auto c = d_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(202, MachineToJson(**m));
}

HttpResponse MachinesApi::Pools() const {
  json::array out;
  if (d_.machines != nullptr) {
    for (const PoolStatus& p : d_.machines->Pools()) {
      json::object labels;
      for (const auto& [k, v] : p.pool->labels) labels[k] = v;
      json::array tools;
      for (const auto& t : p.pool->tools) tools.emplace_back(t);
      json::object o{{"name", p.pool->name},
                     {"backend", p.pool->backend},
                     {"min", p.pool->min},
                     {"max", p.pool->max},
                     {"idle_timeout", FormatDuration(p.pool->idle_timeout)},
                     {"boot_timeout", FormatDuration(p.pool->boot_timeout)},
                     {"task_slots", p.pool->task_slots},
                     {"labels", std::move(labels)},
                     {"tools", std::move(tools)},
                     {"machines", p.live},
                     {"starting", p.starting},
                     {"last_error", p.last_error}};
      out.push_back(std::move(o));
    }
  }
  return JsonResponse(200, {{"pools", std::move(out)}});
}

}  // namespace autovibe
