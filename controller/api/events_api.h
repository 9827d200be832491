// GET /v1/events: the live events stream (Server-Sent Events) over the events feed, filtered by
// kind and project within what the caller's token sees; GET /v1/whoami: the caller's name,
// role and projects (what the dashboard shows and hides). Owner-thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/api/caller.h"
#include "controller/events/event_feed.h"

namespace autovibe {

class EventsApi {
 public:
  explicit EventsApi(EventFeed* feed) : feed_(feed) {}

  static bool Handles(const std::vector<std::string_view>& seg) {
    return seg.size() == 2 && (seg[1] == "events" || seg[1] == "whoami");
  }
  // GET /v1/events?since=ID&kind=K[,K]&project=P&task=T&follow=false (Last-Event-ID as since).
  //   Without since: new events only; with follow=false and no since: the last 100 (a task's
  //   whole history with task=T). Each
  //   event: "id: N\nevent: KIND\ndata: {...}\n\n". A bad query: 400, nothing streamed.
  // GET /v1/whoami: {"name","role","projects"} (projects empty: every project).
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     const Caller& caller);

  static HttpResponse WhoAmI(const Caller& caller);

 private:
  HttpResponse Events(const HttpRequest& req, const Caller& caller);

  EventFeed* feed_;
};

}  // namespace autovibe
