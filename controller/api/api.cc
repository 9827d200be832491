#include "controller/api/api.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/core/time.h"
#include "controller/api/authorize.h"
#include "controller/api/machine_json.h"
#include "controller/api/responses.h"
#include "controller/dashboard/dashboard.h"

namespace autovibe {
namespace {

HttpResponse NoCaller(const Error& why) {
  auto r = JsonError(401, "unauthorized", why.message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

HttpResponse Api::Handle(const HttpRequest& req) {
  const auto read = std::chrono::steady_clock::now();
  std::string route = "other";
  HttpResponse res;
  // Before the request runs: it may delete what it names.
  const bool audited = deps_.request_audit != nullptr && RequestAudit::Audited(req);
  std::optional<std::string> owner = audited ? OwnerOf(req) : std::nullopt;
  try {
    res = Route(req, route);
  } catch (const std::exception& e) {
    // A bug, not bad input: answer 500 and keep serving.
    spdlog::error("api handler failed route={} error={}", route, e.what());
    res = JsonError(500, "internal", "internal error");
  }
  if (audited) {
    res = deps_.request_audit->Answered(req, route, Authenticate(req), std::move(res),
                                        std::move(owner));
  }
  if (res.later) {
    // Counted once answered.
    res.later = [this, route, read, later = std::move(res.later)](auto respond) {
      later([this, route, respond, read](HttpResponse r) {
        Answered(route, r.status, read);
        respond(std::move(r));
      });
    };
    return res;
  }
  Answered(route, res.status, read);
  return res;
}

std::optional<std::string> Api::OwnerOf(const HttpRequest& req) const {
  const auto seg = PathSegments(req.path);
  if (seg.size() < 3 || seg[0] != "v1") return std::nullopt;
  if (seg[1] == "projects") return std::string(seg[2]);
  // One that does not exist has none (and the body does not get to name one).
  if (seg[1] == "tasks") return lookup_.OfTask(seg[2]).value_or("");
  if (seg[1] == "checkpoints") return lookup_.OfCheckpoint(seg[2]).value_or("");
  return std::nullopt;
}

void Api::Answered(const std::string& route, int status,
                   std::chrono::steady_clock::time_point since) {
  ++metrics_.requests[{route, status}];
  metrics_.latency[route].Observe(SecondsSince(since));
}

std::optional<HttpResponse> Api::CheckHead(const HttpRequest& head) {
  std::string route;
  auto refused = Unauthorized(head, route);
  if (refused) ++metrics_.requests[{route, refused->status}];
  if (refused && deps_.request_audit != nullptr && RequestAudit::Audited(head)) {
    deps_.request_audit->Refused(head, route, *refused);
  }
  return refused;
}

std::optional<HttpResponse> Api::Unauthorized(const HttpRequest& req, std::string& route) const {
  auto seg = PathSegments(req.path);
  if (seg.empty() || seg[0] != "v1") return std::nullopt;
  auto caller = Identify(req);
  if (caller) return std::nullopt;
  route = "unauthorized";
  return NoCaller(caller.error());
}

std::optional<Caller> Api::Authenticate(const HttpRequest& req) const {
  auto caller = Identify(req);
  if (!caller) return std::nullopt;
  return std::move(*caller);
}

Result<Caller> Api::Identify(const HttpRequest& req) const {
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view h = req.authorization;
  if (h.empty()) return MakeError(ErrorCode::kUnauthorized, "missing bearer token");
  const Error invalid(ErrorCode::kUnauthorized, "invalid bearer token");
  if (!h.starts_with(kBearer)) return invalid;
  std::string_view token = h.substr(kBearer.size());
  const std::string& want = deps_.admin_token;
  if (!want.empty() && token.size() == want.size() &&
      CRYPTO_memcmp(token.data(), want.data(), want.size()) == 0) {
    return Caller{.name = std::string(kBootstrapTokenName), .role = Role::kAdmin};
  }
  if (deps_.tokens == nullptr) return invalid;
  auto t = deps_.tokens->Authenticate(token);
  if (!t) return t.error();
  return Caller{.name = (*t)->name, .role = (*t)->role, .projects = (*t)->projects};
}

HttpResponse Api::Route(const HttpRequest& req, std::string& route) {
  auto seg = PathSegments(req.path);
  if (seg.size() == 1 && seg[0] == "healthz") {
    route = "/healthz";
    if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET");
    boost::json::object health{{"status", "ok"}};
    if (deps_.insecure_bus) health["insecure_bus"] = true;
    return JsonResponse(200, health);
  }
  if (seg.size() == 1 && seg[0] == "metrics") {
    route = "/metrics";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return Metrics();
  }
  if (seg.empty() || seg[0] != "v1") {
    // The dashboard's files need no token: its sign-in page must load.
    if (auto file = ServeDashboard(req)) {
      route = "/ (dashboard)";
      return std::move(*file);
    }
    return JsonError(404, "not_found", "no such endpoint");
  }
  auto caller = Identify(req);
  if (!caller) {
    route = "unauthorized";
    return NoCaller(caller.error());
  }
  return RouteV1(req, seg, *caller, route);
}

HttpResponse Api::RouteV1(const HttpRequest& req, const std::vector<std::string_view>& seg,
                          const Caller& caller, std::string& route) {
  // Every route has its rule; a path none matches is served to nobody.
  auto rule = FindRouteRule(req.method, seg);
  if (!rule) return JsonError(404, "not_found", "no such endpoint");
  route = std::string(rule->pattern);
  const ProjectScope scope(caller, lookup_);
  if (auto refused = Refusal(req, seg, *rule, scope)) return std::move(*refused);
  if (deps_.budgets_api != nullptr && BudgetsApi::Handles(seg)) {
    return deps_.budgets_api->Route(req, seg, route, scope);
  }
  if (deps_.checkpoints_api != nullptr && CheckpointsApi::Handles(seg)) {
    return deps_.checkpoints_api->Route(req, seg, route, scope);
  }
  if (deps_.tasks_api != nullptr && seg.size() >= 2 &&
      (seg[1] == "projects" || seg[1] == "tasks")) {
    return deps_.tasks_api->Route(req, seg, route, scope);
  }
  if (deps_.secrets_api != nullptr && SecretsApi::Handles(seg)) {
    return deps_.secrets_api->Route(req, seg, route);
  }
  if (deps_.tokens_api != nullptr && TokensApi::Handles(seg)) {
    return deps_.tokens_api->Route(req, seg, route);
  }
  if (deps_.webhooks_api != nullptr && WebhooksApi::Handles(seg)) {
    return deps_.webhooks_api->Route(req, seg, route, &caller);
  }
  if (deps_.events_api != nullptr && EventsApi::Handles(seg)) {
    return deps_.events_api->Route(req, seg, caller);
  }
  if (deps_.audit_api != nullptr && AuditApi::Handles(seg)) {
    return deps_.audit_api->Route(req, seg, route);
  }
  if (deps_.join_tokens_api != nullptr && JoinTokensApi::Handles(seg)) {
    return deps_.join_tokens_api->Route(req, route);
  }
  if (deps_.machines_api != nullptr && MachinesApi::Handles(seg)) {
    return deps_.machines_api->Route(req, seg, route);
  }
  return JsonError(404, "not_found", "no such endpoint");
}

namespace {

void RenderTaskMetrics(const TaskBook& book, std::string& out) {
  std::map<TaskState, int> by_state;
  for (const ProjectRecord* p : book.Projects()) {
    for (const auto& [s, n] : book.Counts(p->name)) by_state[s] += n;
  }
  out += "# HELP autovibe_tasks Tasks by state.\n# TYPE autovibe_tasks gauge\n";
  for (TaskState s : kAllTaskStates) {
    out += fmt::format("autovibe_tasks{{state=\"{}\"}} {}\n", ToString(s), by_state[s]);
  }
  const TaskCounters& c = book.counters();
  out += "# HELP autovibe_task_placements_total Tasks placed on machines.\n";
  out += "# TYPE autovibe_task_placements_total counter\n";
  out += fmt::format("autovibe_task_placements_total {}\n", c.placements);
  out += "# HELP autovibe_tasks_submitted_total Tasks submitted.\n";
  out += "# TYPE autovibe_tasks_submitted_total counter\n";
  out += fmt::format("autovibe_tasks_submitted_total {}\n", c.submitted);
  out += "# HELP autovibe_tasks_requeued_total Tasks sent back to the queue for another attempt.\n";
  out += "# TYPE autovibe_tasks_requeued_total counter\n";
  out += fmt::format("autovibe_tasks_requeued_total {}\n", c.requeued);
  out +=
      "# HELP autovibe_task_stale_cancels_total Copies of tasks cancelled where they should "
      "not run.\n";
  out += "# TYPE autovibe_task_stale_cancels_total counter\n";
  out += fmt::format("autovibe_task_stale_cancels_total {}\n", c.stale_cancels);
}

}  // namespace

HttpResponse Api::Metrics() const {
  std::string out;
  out += "# HELP autovibe_machines Machines by state.\n# TYPE autovibe_machines gauge\n";
  std::map<MachineState, int> by_state;
  for (const MachineRecord* m : deps_.fleet->List()) ++by_state[m->state];
  for (MachineState s : kAllMachineStates) {
    out += fmt::format("autovibe_machines{{state=\"{}\"}} {}\n", ToString(s), by_state[s]);
  }
  const FleetCounters& c = deps_.fleet->counters();
  out +=
      "# HELP autovibe_heartbeats_received_total Heartbeats applied.\n"
      "# TYPE autovibe_heartbeats_received_total counter\n";
  out += fmt::format("autovibe_heartbeats_received_total {}\n", c.heartbeats);
  out +=
      "# HELP autovibe_heartbeats_unknown_total Heartbeats from machines the fleet does not "
      "know.\n";
  out += "# TYPE autovibe_heartbeats_unknown_total counter\n";
  out += fmt::format("autovibe_heartbeats_unknown_total {}\n", c.heartbeats_unknown);
  out +=
      "# HELP autovibe_insecure_bus 1 when the bus runs without users (--insecure-bus).\n"
      "# TYPE autovibe_insecure_bus gauge\n";
  out += fmt::format("autovibe_insecure_bus {}\n", deps_.insecure_bus ? 1 : 0);
  out += "# HELP autovibe_registrations_total Agent registrations accepted.\n";
  out += "# TYPE autovibe_registrations_total counter\n";
  out += fmt::format("autovibe_registrations_total {}\n", c.registrations);
  out +=
      "# HELP autovibe_bus_messages_rejected_total Bus messages dropped, by kind and reason.\n"
      "# TYPE autovibe_bus_messages_rejected_total counter\n";
  if (deps_.bus_stats != nullptr) {
    for (const auto& [key, n] : deps_.bus_stats->Rejected()) {
      out += fmt::format("autovibe_bus_messages_rejected_total{{what=\"{}\",reason=\"{}\"}} {}\n",
                         key.first, key.second, n);
    }
  }
  for (const auto& [what, n] : c.invalid) {
    out += fmt::format(
        "autovibe_bus_messages_rejected_total{{what=\"{}\",reason=\"invalid\"}} {}\n", what, n);
  }
  out +=
      "# HELP autovibe_events_refused_total Agent events and lease requests refused because "
      "the sending machine had no right to say them, by kind and reason.\n"
      "# TYPE autovibe_events_refused_total counter\n";
  if (deps_.refusals != nullptr) {
    for (const auto& [key, n] : deps_.refusals->counts()) {
      out += fmt::format("autovibe_events_refused_total{{kind=\"{}\",reason=\"{}\"}} {}\n",
                         key.first, key.second, n);
    }
  }
  if (deps_.tasks != nullptr) RenderTaskMetrics(*deps_.tasks, out);
  if (deps_.heartbeat_lag != nullptr) {
    out +=
        "# HELP autovibe_heartbeat_lag_seconds From an agent sending a heartbeat to the "
        "controller applying it.\n# TYPE autovibe_heartbeat_lag_seconds histogram\n";
    deps_.heartbeat_lag->Render("autovibe_heartbeat_lag_seconds", out);
  }
  out +=
      "# HELP autovibe_api_requests_total API requests by route and status.\n"
      "# TYPE autovibe_api_requests_total counter\n";
  for (const auto& [key, n] : metrics_.requests) {
    out += fmt::format("autovibe_api_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  MetricsText more;
  more.Family("autovibe_api_request_duration_seconds", "histogram",
              "From a request read to its answer given, by route (for a stream: its head).");
  for (const auto& [route, h] : metrics_.latency) {
    more.Histogram("autovibe_api_request_duration_seconds", {{"route", route}}, h);
  }
  RenderControllerMetrics(deps_.more_metrics, more);
  out += more.text();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace autovibe
