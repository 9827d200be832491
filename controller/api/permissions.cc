#include "controller/api/permissions.h"

namespace autovibe {
namespace {

using P = Permission;
using F = ProjectFrom;

// Reads are a viewer's; acts on tasks, projects, budgets and checkpoints an operator's, within
// its projects; the fleet (machines, pools' changes, secrets, tokens, join tokens) an admin's.
constexpr RouteRule kRouteRules[] = {
    // The fleet.
    {"GET", "/v1/machines", P::kRead, F::kFleet},
    {"POST", "/v1/machines", P::kAdmin, F::kFleet},
    {"POST", "/v1/machines/join-tokens", P::kAdmin, F::kFleet},
    {"GET", "/v1/machines/{id}", P::kRead, F::kFleet},
    {"DELETE", "/v1/machines/{id}", P::kAdmin, F::kFleet},
    {"POST", "/v1/machines/{id}/drain", P::kAdmin, F::kFleet},
    {"POST", "/v1/machines/{id}/checkpoints", P::kOperate, F::kBodyTask},
    {"GET", "/v1/pools", P::kRead, F::kFleet},
    // Projects and their budgets.
    {"GET", "/v1/projects", P::kRead, F::kList},
    {"POST", "/v1/projects", P::kOperate, F::kFleet},
    {"GET", "/v1/projects/{name}", P::kRead, F::kPath},
    {"PATCH", "/v1/projects/{name}", P::kOperate, F::kPath},
    {"POST", "/v1/projects/{name}/stop", P::kOperate, F::kPath},
    {"POST", "/v1/projects/{name}/resume", P::kOperate, F::kPath},
    {"GET", "/v1/projects/{name}/budgets", P::kRead, F::kPath},
    {"PUT", "/v1/projects/{name}/budgets", P::kOperate, F::kPath},
    {"GET", "/v1/projects/{name}/usage", P::kRead, F::kPath},
    {"GET", "/v1/usage", P::kRead, F::kList},
    {"GET", "/v1/alerts", P::kRead, F::kList},
    // Tasks.
    {"GET", "/v1/tasks", P::kRead, F::kList},
    {"POST", "/v1/tasks", P::kOperate, F::kBodyProject},
    {"GET", "/v1/tasks/{id}", P::kRead, F::kTask},
    {"GET", "/v1/tasks/{id}/logs", P::kRead, F::kTask},
    {"GET", "/v1/tasks/{id}/diff", P::kRead, F::kTask},
    {"GET", "/v1/tasks/{id}/bundle", P::kRead, F::kTask},
    {"POST", "/v1/tasks/{id}/cancel", P::kOperate, F::kTask},
    {"POST", "/v1/tasks/{id}/resume", P::kOperate, F::kTask},
    {"POST", "/v1/tasks/{id}/approve", P::kOperate, F::kTask},
    {"POST", "/v1/tasks/{id}/reject", P::kOperate, F::kTask},
    // Checkpoints.
    {"GET", "/v1/checkpoints", P::kRead, F::kList},
    {"GET", "/v1/checkpoints/{id}", P::kRead, F::kCheckpoint},
    {"DELETE", "/v1/checkpoints/{id}", P::kOperate, F::kCheckpoint},
    {"GET", "/v1/checkpoints/{id}/diff", P::kRead, F::kCheckpoint},
    {"GET", "/v1/checkpoints/{id}/archive", P::kRead, F::kCheckpoint},
    {"POST", "/v1/checkpoints/{id}/restore", P::kOperate, F::kCheckpoint},
    {"POST", "/v1/checkpoints/{id}/branch", P::kOperate, F::kCheckpoint},
    {"POST", "/v1/checkpoints/{id}/verify", P::kOperate, F::kCheckpoint},
    // Secrets and tokens.
    {"GET", "/v1/secrets", P::kAdmin, F::kFleet},
    {"PUT", "/v1/secrets/{name}", P::kAdmin, F::kFleet},
    {"DELETE", "/v1/secrets/{name}", P::kAdmin, F::kFleet},
    {"GET", "/v1/tokens", P::kAdmin, F::kFleet},
    {"POST", "/v1/tokens", P::kAdmin, F::kFleet},
    {"DELETE", "/v1/tokens/{name}", P::kAdmin, F::kFleet},
    // The audit log: admins only (it names every caller and object of the fleet).
    {"GET", "/v1/events", P::kRead, F::kList},
    {"GET", "/v1/whoami", P::kRead, F::kList},
    {"GET", "/v1/audit", P::kAdmin, F::kFleet},
    {"GET", "/v1/audit/verify", P::kAdmin, F::kFleet},
    // Webhooks: managed by admins; read by anyone, a scoped caller seeing only its projects'
    // (the route filters, and answers 404 for others).
    {"GET", "/v1/webhooks", P::kRead, F::kList},
    {"POST", "/v1/webhooks", P::kAdmin, F::kFleet},
    {"GET", "/v1/webhooks/{id}", P::kRead, F::kList},
    {"DELETE", "/v1/webhooks/{id}", P::kAdmin, F::kFleet},
    {"GET", "/v1/webhooks/{id}/deliveries", P::kRead, F::kList},
    {"POST", "/v1/webhooks/{id}/test", P::kAdmin, F::kFleet},
};

bool IsPlaceholder(std::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

// How many literal segments of `pattern` match `seg`; nothing when it does not match.
std::optional<int> PatternMatch(std::string_view pattern,
                                const std::vector<std::string_view>& seg) {
  size_t i = 0;
  int literals = 0;
  while (!pattern.empty()) {
    pattern.remove_prefix(1);  // '/'
    const size_t slash = pattern.find('/');
    const std::string_view part = pattern.substr(0, slash);
    pattern.remove_prefix(slash == std::string_view::npos ? pattern.size() : slash);
    if (i >= seg.size()) return std::nullopt;
    if (IsPlaceholder(part)) {
      if (seg[i].empty()) return std::nullopt;
    } else if (part != seg[i]) {
      return std::nullopt;
    } else {
      ++literals;
    }
    ++i;
  }
  if (i != seg.size()) return std::nullopt;
  return literals;
}

}  // namespace

std::string_view ToString(Permission p) {
  switch (p) {
    case Permission::kRead:
      return "read";
    case Permission::kOperate:
      return "operate";
    case Permission::kAdmin:
      break;
  }
  return "admin";
}

bool Holds(Role r, Permission p) { return static_cast<int>(r) >= static_cast<int>(p); }

std::span<const RouteRule> RouteRules() { return kRouteRules; }

std::optional<RouteRule> FindRouteRule(std::string_view method,
                                       const std::vector<std::string_view>& seg) {
  int best = -1;
  std::string_view pattern;
  for (const RouteRule& r : kRouteRules) {
    auto literals = PatternMatch(r.pattern, seg);
    if (literals && *literals > best) {
      best = *literals;
      pattern = r.pattern;
    }
  }
  if (best < 0) return std::nullopt;
  std::optional<RouteRule> any;
  for (const RouteRule& r : kRouteRules) {
    if (r.pattern != pattern) continue;
    if (r.method == method) return r;
    any = r;
  }
  // A method the route does not serve: its 405 is a read of the same object (a body names none).
  any->method = method;
  any->need = Permission::kRead;
  if (any->project == ProjectFrom::kBodyProject || any->project == ProjectFrom::kBodyTask) {
    any->project = ProjectFrom::kList;
  }
  return any;
}

std::optional<std::string_view> PathObject(const RouteRule& rule,
                                           const std::vector<std::string_view>& seg) {
  std::string_view pattern = rule.pattern;
  for (size_t i = 0; !pattern.empty(); ++i) {
    pattern.remove_prefix(1);
    const size_t slash = pattern.find('/');
    const std::string_view part = pattern.substr(0, slash);
    pattern.remove_prefix(slash == std::string_view::npos ? pattern.size() : slash);
    if (IsPlaceholder(part)) return i < seg.size() ? std::optional(seg[i]) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace autovibe
