// Signed notifications (controller/notify): GET and POST /v1/webhooks, GET and DELETE
// /v1/webhooks/{id}, GET /v1/webhooks/{id}/deliveries, POST /v1/webhooks/{id}/test.
// The signing secret is answered once, by the POST that made it; no other answer and no log
// line holds it. Owner-thread only.
//
// Route labels (metrics, permissions): "/v1/webhooks", "/v1/webhooks/{id}",
// "/v1/webhooks/{id}/deliveries", "/v1/webhooks/{id}/test".
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"
#include "controller/api/caller.h"
#include "controller/notify/webhook_notifier.h"

namespace autovibe {

struct WebhooksApiDeps {
  WebhookNotifier* notifier = nullptr;
  // Makes what a request changed durable before it is answered.
  std::function<Result<void>()> commit;
};

class WebhooksApi {
 public:
  explicit WebhooksApi(WebhooksApiDeps deps) : d_(std::move(deps)) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  // POST {"url", "kinds": [...], "project"?, "format"? (json|slack), "secret"?, "ca_pem"? |
  // "ca_file"?}: 201 with the webhook and its "secret"; 400 for bad input (nothing stored).
  // GET /v1/webhooks: {"webhooks": [{"id", "url", "kinds", "project", "format", "ca",
  // "created_at"}]}. DELETE: 200 {"deleted": id}. GET .../deliveries[?limit=N]: {"deliveries":
  // [{"id", "kind", "event", "state", "attempts", "created_at", "next_attempt_at",
  // "last_status", "last_error", "log": [{"at", "status", "error", "duration_ms"}]}]}, newest
  // first. POST .../test: 202 with the test delivery.
  // `caller` (may be null: sees everything): a caller scoped to projects sees only the
  // webhooks of its projects; others answer 404.
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route, const Caller* caller = nullptr);

 private:
  HttpResponse List(const Caller* caller);
  HttpResponse Add(const HttpRequest& req);
  HttpResponse Deliveries(const HttpRequest& req, const Webhook& w);
  HttpResponse Test(const Webhook& w);
  HttpResponse Delete(const Webhook& w);

  WebhooksApiDeps d_;
};

}  // namespace autovibe
