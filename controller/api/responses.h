// Small helpers shared by the API's route files.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
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

// At most `n` bytes of `s`: an id or name from a request, fit to repeat in an error.
inline std::string Clipped(std::string_view s, size_t n = 80) {
  return std::string(s.substr(0, n));
}
// Parses a JSON object request body; on failure the 400 response to send.
Result<boost::json::object> ParseJsonObject(const HttpRequest& req);
// A body that may be empty (no fields at all), else a JSON object with only `allowed` keys.
Result<boost::json::object> OptionalBody(const HttpRequest& req,
                                         std::initializer_list<std::string_view> allowed);
// An optional string field of a JSON body ("" when absent or null); an error when it is there
// but not a string of at most 200 characters.
Result<std::string> OptionalText(const boost::json::object& body, std::string_view key);

}  // namespace autovibe
