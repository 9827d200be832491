// Whether a request's caller may make it, by the route's rule (permissions.h): the answer that
// refuses it, or nothing.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/api/permissions.h"
#include "controller/api/project_scope.h"

namespace autovibe {

// 403 when the caller's role lacks the rule's permission, or when a project-scoped caller asks
// for something fleet-level; 404, worded as for an object that does not exist, when the
// request's object lies outside the caller's projects (so its existence does not show).
std::optional<HttpResponse> Refusal(const HttpRequest& req,
                                    const std::vector<std::string_view>& seg, const RouteRule& rule,
                                    const ProjectScope& scope);

}  // namespace autovibe
