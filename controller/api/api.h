// The controller's HTTP API: routing, authentication, JSON. Owner-thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bus/bus_stats.h"
#include "common/http/http.h"
#include "controller/api/audit_api.h"
#include "controller/api/budgets_api.h"
#include "controller/api/caller.h"
#include "controller/api/checkpoints_api.h"
#include "controller/api/events_api.h"
#include "controller/api/join_tokens_api.h"
#include "controller/api/machines_api.h"
#include "controller/api/metrics.h"
#include "controller/api/project_scope.h"
#include "controller/api/request_audit.h"
#include "controller/api/secrets_api.h"
#include "controller/api/tasks_api.h"
#include "controller/api/tokens_api.h"
#include "controller/api/webhooks_api.h"
#include "controller/auth/token_book.h"
#include "controller/fleet/fleet.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/model/refusals.h"

namespace autovibe {

struct ApiDeps {
  const Fleet* fleet = nullptr;
  BusStats* bus_stats = nullptr;                    // may be null
  const LatencyHistogram* heartbeat_lag = nullptr;  // may be null
  std::string admin_token;
  TasksApi* tasks_api = nullptr;              // may be null
  const TaskBook* tasks = nullptr;            // for metrics; may be null
  BudgetsApi* budgets_api = nullptr;          // may be null
  CheckpointsApi* checkpoints_api = nullptr;  // may be null
  MachinesApi* machines_api = nullptr;        // null: the fleet read-only, no provisioning
  const Refusals* refusals = nullptr;         // may be null
  JoinTokensApi* join_tokens_api = nullptr;   // may be null
  SecretsApi* secrets_api = nullptr;          // may be null
  WebhooksApi* webhooks_api = nullptr;        // may be null
  RequestAudit* request_audit = nullptr;      // null: requests are not audited
  AuditApi* audit_api = nullptr;              // may be null
  EventsApi* events_api = nullptr;            // may be null
  // The bus runs without users (--insecure-bus): /healthz and /metrics say so.
  bool insecure_bus = false;
  // Tokens beside the bootstrap admin token; null: that token alone.
  TokenBook* tokens = nullptr;
  TokensApi* tokens_api = nullptr;  // may be null
  // Where checkpoints' projects are found, for project-scoped tokens; may be null (with
  // `tasks`, the lookup ProjectScope uses).
  const CheckpointService* checkpoints = nullptr;
  const MachineManager* machines = nullptr;
  // The rest of /metrics (controller/metrics/): spend, leases, timings, pools, machines.
  ControllerMetricsSources more_metrics;
};

class Api {
 public:
  explicit Api(ApiDeps deps)
      : deps_(std::move(deps)), lookup_{deps_.tasks, deps_.checkpoints, deps_.machines} {
    if (deps_.machines_api == nullptr) {
      own_machines_ = std::make_unique<MachinesApi>(
          MachinesApiDeps{deps_.fleet, nullptr, [] { return Result<void>(); }});
      deps_.machines_api = own_machines_.get();
    }
  }

  // Never throws; every failure is a JSON error response.
  HttpResponse Handle(const HttpRequest& req);
  // On a request's head, before its body is read: the 401 a /v1 request without a valid
  // token gets, or nothing (the request goes on to Handle).
  std::optional<HttpResponse> CheckHead(const HttpRequest& head);

  const ApiMetrics& metrics() const { return metrics_; }

  // Who sent the request, from its bearer token (the bootstrap admin token, or one of the
  // token book's); nothing when the token is missing, unknown or expired.
  std::optional<Caller> Authenticate(const HttpRequest& req) const;

 private:
  HttpResponse Route(const HttpRequest& req, std::string& route);
  // The caller, or why the request has none (unauthorized: missing, invalid, expired).
  Result<Caller> Identify(const HttpRequest& req) const;
  // A /v1 request from `caller`, checked against its route's permission, then routed.
  HttpResponse RouteV1(const HttpRequest& req, const std::vector<std::string_view>& seg,
                       const Caller& caller, std::string& route);
  // The 401 for a /v1 request without a valid token; nothing for a good one or another path.
  std::optional<HttpResponse> Unauthorized(const HttpRequest& req, std::string& route) const;
  HttpResponse Metrics() const;
  // The project of the object `req`'s path names, as it stands before the request runs: what
  // its audit record says, whatever the body claims.
  std::optional<std::string> OwnerOf(const HttpRequest& req) const;
  // Counts an answer of `route` given `since` its request was read.
  void Answered(const std::string& route, int status, std::chrono::steady_clock::time_point since);

  ApiDeps deps_;
  ProjectLookup lookup_;
  std::unique_ptr<MachinesApi> own_machines_;
  ApiMetrics metrics_;
};

}  // namespace autovibe
