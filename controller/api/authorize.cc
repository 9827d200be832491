#include "controller/api/authorize.h"

#include <boost/json.hpp>

#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string ScopeNames(const Caller& c) {
  std::string out;
  for (const auto& p : c.projects) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string RuleName(const RouteRule& rule) {
  return std::string(rule.method) + " " + std::string(rule.pattern);
}

HttpResponse Refuse403(std::string message) {
  return JsonError(403, "forbidden", std::move(message));
}

HttpResponse Fleetwide(const Caller& c, const RouteRule& rule, std::string_view why = "") {
  return Refuse403("token " + c.name + " is limited to the projects " + ScopeNames(c) + ", and " +
                   RuleName(rule) + " is fleet-level" + std::string(why));
}

HttpResponse Hide404(std::string_view what, std::string_view id) {
  return JsonError(404, "not_found", std::string(what) + Clipped(id));
}

// A string field of the request's JSON body; nothing when the body is not such an object.
std::optional<std::string> BodyField(const HttpRequest& req, std::string_view key) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* f = v.as_object().if_contains(key);
  if (f == nullptr || !f->is_string() || f->as_string().empty()) return std::nullopt;
  return std::string(f->as_string());
}

}  // namespace

std::optional<HttpResponse> Refusal(const HttpRequest& req,
                                    const std::vector<std::string_view>& seg, const RouteRule& rule,
                                    const ProjectScope& scope) {
  const Caller& c = scope.caller();
  if (!Holds(c.role, rule.need)) {
    return Refuse403("token " + c.name + " (role " + std::string(ToString(c.role)) +
                     ") lacks the " + std::string(ToString(rule.need)) + " permission that " +
                     RuleName(rule) + " needs");
  }
  if (scope.Everything()) return std::nullopt;
  const std::string_view object = PathObject(rule, seg).value_or("");
  switch (rule.project) {
    case ProjectFrom::kFleet:
      return Fleetwide(c, rule);
    case ProjectFrom::kList:
      return std::nullopt;
    case ProjectFrom::kPath:
      if (!scope.Sees(object)) return Hide404("no project named ", object);
      return std::nullopt;
    case ProjectFrom::kTask:
      if (!scope.SeesTask(object)) return Hide404("no task with id ", object);
      return std::nullopt;
    case ProjectFrom::kCheckpoint:
      if (!scope.SeesCheckpoint(object)) return Hide404("no checkpoint ", object);
      return std::nullopt;
    case ProjectFrom::kBodyProject: {
      // No project: the route says what is missing.
      auto project = BodyField(req, "project");
      if (project && !scope.Sees(*project)) return Hide404("no project named ", *project);
      return std::nullopt;
    }
    case ProjectFrom::kBodyTask: {
      auto task = BodyField(req, "task");
      if (!task) return Fleetwide(c, rule, " without a \"task\" of one of them");
      if (!scope.SeesTask(*task)) return Hide404("no task with id ", *task);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace autovibe
