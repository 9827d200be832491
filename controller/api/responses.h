// Small helpers shared by the API's route files.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"

namespace autovibe {

HttpResponse JsonResponse(int status, const boost::json::value& v);
HttpResponse MethodNotAllowed(std::string_view allowed);
// The non-empty segments of a path: "/v1/tasks/t-1" -> {"v1", "tasks", "t-1"}.
std::vector<std::string_view> PathSegments(std::string_view path);
// An Error as a JSON error response: not_found 404, conflict 409, bad_request 400,
// unavailable 503, else 500.
HttpResponse ErrorResponse(const Error& e);
// Parses a JSON object request body; on failure the 400 response to send.
Result<boost::json::object> ParseJsonObject(const HttpRequest& req);

}  // namespace autovibe
