#include "controller/api/webhooks_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/core/time.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kMaxBody = 128 << 10;
constexpr size_t kDefaultDeliveries = 50;
constexpr size_t kMaxDeliveries = 500;

json::value ProjectJson(const std::string& project) {
  return project.empty() ? json::value(nullptr) : json::value(project);
}

json::object WebhookJson(const Webhook& w) {
  json::array kinds;
  for (NotificationKind k : w.kinds) kinds.emplace_back(ToString(k));
  return {{"id", w.id},
          {"url", w.url},
          {"kinds", std::move(kinds)},
          {"project", ProjectJson(w.project)},
          {"format", ToString(w.format)},
          {"ca", w.ca_pem.empty() ? "system" : "custom"},
          {"created_at", FormatRfc3339(w.created_at_ms)}};
}

json::object DeliveryJson(const WebhookDelivery& d) {
  json::array log;
  for (const DeliveryAttempt& a : d.attempts) {
    log.push_back(json::object{{"at", FormatRfc3339(a.at_ms)},
                               {"status", a.status},
                               {"error", a.error},
                               {"duration_ms", a.duration_ms}});
  }
  json::object o{{"id", d.id},
                 {"kind", ToString(d.kind)},
                 {"event", d.event_key},
                 {"state", ToString(d.state)},
                 {"attempts", d.attempts.size()},
                 {"created_at", FormatRfc3339(d.created_at_ms)}};
  o["next_attempt_at"] = d.state == DeliveryState::kPending
                             ? json::value(FormatRfc3339(d.next_attempt_at_ms))
                             : json::value(nullptr);
  o["last_status"] = d.attempts.empty() ? 0 : d.attempts.back().status;
  o["last_error"] = d.attempts.empty() ? "" : d.attempts.back().error;
  o["log"] = std::move(log);
  return o;
}

bool Visible(const Webhook& w, const Caller* caller) {
  if (caller == nullptr || caller->projects.empty()) return true;
  return !w.project.empty() && caller->Sees(w.project);
}

Result<std::string> Text(const json::object& body, std::string_view key, size_t max) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string() || v->as_string().size() > max) {
    return MakeError(ErrorCode::kBadRequest, std::string(key) + " must be a string of at most " +
                                                 std::to_string(max) + " characters");
  }
  return std::string(v->as_string());
}

Result<WebhookRequest> ParseRequest(const HttpRequest& req) {
  auto body =
      OptionalBody(req, {"url", "kinds", "project", "format", "secret", "ca_pem", "ca_file"});
  if (!body) return body.error();
  WebhookRequest out;
  std::string format;
  struct Field {
    std::string_view key;
    std::string* out;
    size_t max;
  };
  const Field fields[] = {{"url", &out.url, kMaxWebhookUrl + 1},
                          {"project", &out.project, 200},
                          {"format", &format, 20},
                          {"secret", &out.secret, 1024},
                          {"ca_pem", &out.ca_pem, kMaxWebhookCaBytes + 1},
                          {"ca_file", &out.ca_file, 4096}};
  for (const Field& f : fields) {
    auto v = Text(*body, f.key, f.max);
    if (!v) return v.error();
    *f.out = std::move(*v);
  }
  if (!format.empty()) out.format = format;
  const json::value* kinds = body->if_contains("kinds");
  if (kinds == nullptr || !kinds->is_array() || kinds->as_array().size() > 32) {
    return MakeError(ErrorCode::kBadRequest,
                     "kinds must be a list of event kinds, e.g. [\"task_failed\"]");
  }
  for (const json::value& k : kinds->as_array()) {
    if (!k.is_string() || k.as_string().size() > 64) {
      return MakeError(ErrorCode::kBadRequest, "kinds must be a list of event kind names");
    }
    out.kinds.emplace_back(k.as_string());
  }
  return out;
}

}  // namespace

bool WebhooksApi::Handles(const std::vector<std::string_view>& seg) {
  return seg.size() >= 2 && seg[1] == "webhooks";
}

HttpResponse WebhooksApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                                std::string& route, const Caller* caller) {
  if (seg.size() == 2) {
    route = "/v1/webhooks";
    if (req.method == "GET") return List(caller);
    if (req.method == "POST") return Add(req);
    return MethodNotAllowed("GET, POST");
  }
  if (seg.size() > 4) return JsonError(404, "not_found", "no such endpoint");
  const Webhook* w = d_.notifier->Find(seg[2]);
  if (seg.size() == 3) {
    route = "/v1/webhooks/{id}";
  } else if (seg[3] == "deliveries") {
    route = "/v1/webhooks/{id}/deliveries";
  } else if (seg[3] == "test") {
    route = "/v1/webhooks/{id}/test";
  } else {
    return JsonError(404, "not_found", "no such endpoint");
  }
  if (w == nullptr || !Visible(*w, caller)) {
    return JsonError(404, "not_found", "no webhook " + Clipped(seg[2]));
  }
  if (seg.size() == 3) {
    if (req.method == "GET") return JsonResponse(200, WebhookJson(*w));
    if (req.method == "DELETE") return Delete(*w);
    return MethodNotAllowed("GET, DELETE");
  }
  if (seg[3] == "deliveries") {
    if (req.method != "GET") return MethodNotAllowed("GET");
    return Deliveries(req, *w);
  }
  if (req.method != "POST") return MethodNotAllowed("POST");
  return Test(*w);
}

HttpResponse WebhooksApi::List(const Caller* caller) {
  json::array out;
  for (const Webhook* w : d_.notifier->List()) {
    if (Visible(*w, caller)) out.push_back(WebhookJson(*w));
  }
  return JsonResponse(200, json::object{{"webhooks", std::move(out)}});
}

HttpResponse WebhooksApi::Add(const HttpRequest& req) {
  if (req.body.size() > kMaxBody) {
    return JsonError(400, "bad_request", "the request body is larger than 128 KiB");
  }
  auto parsed = ParseRequest(req);
  if (!parsed) return ErrorResponse(parsed.error());
  auto added = d_.notifier->Add(*parsed);
  if (!added) return ErrorResponse(added.error());
  if (auto r = d_.commit(); !r) return ErrorResponse(r.error());
  json::object o = WebhookJson(**added);
  o["secret"] = (*added)->secret;  // this once
  return JsonResponse(201, o);
}

HttpResponse WebhooksApi::Delete(const Webhook& w) {
  const std::string id = w.id;
  if (auto r = d_.notifier->Remove(id); !r) return ErrorResponse(r.error());
  if (auto r = d_.commit(); !r) return ErrorResponse(r.error());
  return JsonResponse(200, json::object{{"deleted", id}});
}

HttpResponse WebhooksApi::Deliveries(const HttpRequest& req, const Webhook& w) {
  size_t limit = kDefaultDeliveries;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    const std::string& s = it->second;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), limit);
    if (ec != std::errc() || end != s.data() + s.size() || limit == 0 || limit > kMaxDeliveries) {
      return JsonError(400, "bad_request", "limit must be a whole number from 1 to 500");
    }
  }
  auto list = d_.notifier->Deliveries(w.id, limit);
  if (!list) return ErrorResponse(list.error());
  json::array out;
  for (const WebhookDelivery& d : *list) out.push_back(DeliveryJson(d));
  return JsonResponse(200, json::object{{"deliveries", std::move(out)}});
}

HttpResponse WebhooksApi::Test(const Webhook& w) {
  auto sent = d_.notifier->SendTest(w.id);
  if (!sent) return ErrorResponse(sent.error());
  if (auto r = d_.commit(); !r) return ErrorResponse(r.error());
  return JsonResponse(202, DeliveryJson(*sent));
}

}  // namespace autovibe
