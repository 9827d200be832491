#include "controller/api/events_api.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>

#include "controller/api/responses.h"
#include "controller/events/event_json.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kRecentWithoutSince = 100;
constexpr size_t kMaxProjectBytes = 200;

std::optional<int64_t> WholeNumber(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) return std::nullopt;
  return n;
}

struct EventsQuery {
  EventFilter filter;
  std::optional<int64_t> since;
  bool follow = true;
};

Result<EventsQuery> ParseQuery(const HttpRequest& req) {
  EventsQuery q;
  auto bad = [](std::string m) { return MakeError(ErrorCode::kBadRequest, std::move(m)); };
  for (const auto& [key, value] : req.query) {
    if (key == "since") {
      q.since = WholeNumber(value);
      if (!q.since) return bad("since must be an event id (a whole number)");
    } else if (key == "kind") {
      auto kinds = ParseEventKinds(value);
      if (!kinds) return kinds.error();
      q.filter.kinds = std::move(*kinds);
    } else if (key == "project") {
      if (value.empty() || value.size() > kMaxProjectBytes) {
        return bad("project must be 1-200 characters");
      }
      q.filter.project = value;
    } else if (key == "task") {
      if (value.empty() || value.size() > kMaxProjectBytes) {
        return bad("task must be 1-200 characters");
      }
      q.filter.task = value;
    } else if (key == "follow") {
      if (value != "true" && value != "false" && value != "1" && value != "0") {
        return bad("follow must be true or false");
      }
      q.follow = value == "true" || value == "1";
    } else {
      return bad("unknown query parameter \"" + key.substr(0, 40) +
                 "\" (since, kind, project, task, follow)");
    }
  }
  if (!q.since) {
    if (std::string_view last = HeaderValue(req, "last-event-id"); !last.empty()) {
      q.since = WholeNumber(last);
      if (!q.since) return bad("Last-Event-ID must be an event id (a whole number)");
    }
  }
  return q;
}

}  // namespace

HttpResponse EventsApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                              const Caller& caller) {
  if (seg[1] == "whoami") return WhoAmI(caller);
  return Events(req, caller);
}

HttpResponse EventsApi::WhoAmI(const Caller& caller) {
  json::array projects;
  for (const std::string& p : caller.projects) projects.emplace_back(p);
  return JsonResponse(200, json::object{{"name", caller.name},
                                        {"role", ToString(caller.role)},
                                        {"projects", std::move(projects)}});
}

HttpResponse EventsApi::Events(const HttpRequest& req, const Caller& caller) {
  auto q = ParseQuery(req);
  if (!q) return JsonError(400, "bad_request", q.error().message);
  q->filter.scope = caller.projects;
  // A project the token does not see has no events for it: the same answer as one that
  // does not exist.
  if (!q->filter.project.empty() && !caller.Sees(q->filter.project)) {
    return JsonError(404, "not_found", "no project named " + q->filter.project);
  }
  if (q->follow && feed_->full()) {
    return JsonError(503, "unavailable", "too many event streams are open; try again later");
  }
  std::vector<StoredEvent> recent;
  if (!q->since && !q->follow) {
    // A task's whole history, else the last events.
    auto last = q->filter.task.empty() ? feed_->Last(q->filter, kRecentWithoutSince)
                                       : feed_->TaskHistory(q->filter);
    if (!last) return JsonError(503, "unavailable", last.error().message);
    recent = std::move(*last);
  }
  HttpResponse res;
  res.content_type = "text/event-stream";
  res.headers.emplace_back("Cache-Control", "no-store");
  res.headers.emplace_back("X-Accel-Buffering", "no");
  res.keepalive = ":\n\n";
  res.on_stream = [feed = feed_, q = std::move(*q),
                   recent = std::move(recent)](std::shared_ptr<HttpBodyStream> stream) mutable {
    if (!q.since && !q.follow) {
      for (const StoredEvent& e : recent) stream->Write(SseEvent(e));
      stream->Close();
      return;
    }
    feed->Follow(std::move(q.filter), q.since, q.follow, std::move(stream));
  };
  return res;
}

}  // namespace autovibe
