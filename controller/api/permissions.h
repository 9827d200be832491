// The permission every API route needs, and where the project of the object it acts on is
// found: one table (RouteRules) that Api checks each /v1 request against before any route
// runs. A path no rule's pattern matches is served to nobody (404), so a route added without
// its rule cannot be reached.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "controller/model/api_token.h"

namespace autovibe {

// Each role holds the permissions up to its own: viewer read, operator operate, admin admin.
enum class Permission { kRead, kOperate, kAdmin };

std::string_view ToString(Permission p);
// Whether a token of role `r` holds `p`.
bool Holds(Role r, Permission p);

// Where the project of a request's object is found.
enum class ProjectFrom {
  kFleet,        // fleet-level, of no project: refused (403) to a project-scoped token
  kList,         // a list: the route answers only the caller's projects' objects
  kPath,         // the project named in the path: /v1/projects/{name}/...
  kTask,         // the task in the path: /v1/tasks/{id}/...
  kCheckpoint,   // the checkpoint in the path: /v1/checkpoints/{id}/...
  kBodyProject,  // the request body's "project" (a task submitted)
  kBodyTask,     // the request body's "task"; fleet-level without one (a machine's checkpoint)
};

struct RouteRule {
  std::string_view method;
  // "/v1/tasks/{id}/logs": a segment in braces stands for any one segment. It is also the
  // route's label in the API's metrics, as its route sets it.
  std::string_view pattern;
  Permission need = Permission::kRead;
  ProjectFrom project = ProjectFrom::kFleet;
};

// Every route the API serves, once each.
std::span<const RouteRule> RouteRules();

// The rule for a request (`seg`: its path's segments, PathSegments). Among the patterns that
// match the path, the most specific (most literal segments) wins. When the method is none of
// that pattern's, the answer is a read rule with the pattern's project, so the route's own 405
// is reached only within the caller's projects. Nothing when no pattern matches the path.
std::optional<RouteRule> FindRouteRule(std::string_view method,
                                       const std::vector<std::string_view>& seg);

// The path segment that names the rule's object (its first braced segment), if any.
std::optional<std::string_view> PathObject(const RouteRule& rule,
                                           const std::vector<std::string_view>& seg);

}  // namespace autovibe
