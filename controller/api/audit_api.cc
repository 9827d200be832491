#include "controller/api/audit_api.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <memory>

#include "common/audit/audit_json.h"
#include "common/core/duration.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kMaxLimit = 1000;
constexpr size_t kMaxFilterText = 200;

Error BadQuery(const std::string& message) { return MakeError(ErrorCode::kBadRequest, message); }

Result<int64_t> PositiveInt(std::string_view key, const std::string& text, int64_t max) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > max) {
    return BadQuery(std::string(key) + " must be a whole number from 1 to " + std::to_string(max) +
                    ", got \"" + Clipped(text) + "\"");
  }
  return n;
}

// RFC 3339 ("2026-05-01T10:00:00Z", or a date alone) or a duration before now ("1h").
Result<int64_t> TimeOf(std::string_view key, const std::string& text, int64_t now_ms) {
  if (auto ms = ParseRfc3339Ms(text, DateAlone::kMidnightUtc)) return *ms;
  if (auto d = ParseDuration(text); d && d->count() >= 0) return now_ms - d->count();
  return BadQuery(std::string(key) +
                  " must be an RFC 3339 time (2026-05-01T10:00:00Z) or a duration before now "
                  "(30m, 1h, 7d), got \"" +
                  Clipped(text) + "\"");
}

Result<std::string> FilterText(std::string_view key, const std::string& text) {
  if (text.empty() || text.size() > kMaxFilterText) {
    return BadQuery(std::string(key) + " must be 1-200 characters");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return BadQuery(std::string(key) + " holds a control character");
  }
  return text;
}

Result<AuditFilter> ParseFilter(const HttpRequest& req, int64_t now_ms) {
  AuditFilter f;
  for (const auto& [key, value] : req.query) {
    if (key == "since" || key == "until") {
      auto t = TimeOf(key, value, now_ms);
      if (!t) return t.error();
      (key == "since" ? f.since_ms : f.until_ms) = *t;
    } else if (key == "limit") {
      auto n = PositiveInt(key, value, kMaxLimit);
      if (!n) return n.error();
      f.limit = static_cast<size_t>(*n);
    } else if (key == "cursor") {
      auto n = PositiveInt(key, value, std::numeric_limits<int64_t>::max());
      if (!n) return BadQuery("cursor must be the next_cursor of an earlier answer");
      f.after_seq = *n;  // which side it bounds is settled once the order is known
    } else if (key == "order") {
      if (value != "asc" && value != "desc") return BadQuery("order must be asc or desc");
      f.oldest_first = value == "asc";
    } else if (key == "actor" || key == "project" || key == "object") {
      auto text = FilterText(key, value);
      if (!text) return text.error();
      if (key == "actor") f.actor = *text;
      if (key == "project") f.project = *text;
      if (key == "object") {
        // KIND/ID, KIND/ (every object of a kind), or ID alone.
        if (auto slash = text->find('/'); slash != std::string::npos) {
          f.object_kind = text->substr(0, slash);
          f.object_id = text->substr(slash + 1);
          if (f.object_kind.empty()) return BadQuery("object must be KIND/ID, KIND/ or ID");
        } else {
          f.object_id = *text;
        }
      }
    } else {
      return BadQuery("unknown query parameter \"" + Clipped(key, 40) +
                      "\"; filters are actor, project, object, since, until, limit, cursor, "
                      "order");
    }
  }
  if (f.since_ms > f.until_ms) return BadQuery("since is after until");
  if (!f.oldest_first && f.after_seq > 0) {
    f.before_seq = f.after_seq;
    f.after_seq = 0;
  }
  return f;
}

}  // namespace

HttpResponse AuditApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                             std::string& route) {
  if (seg.size() == 2) {
    route = "/v1/audit";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return List(req);
  }
  if (seg.size() == 3 && seg[2] == "verify") {
    route = "/v1/audit/verify";
    if (req.method != "GET") return MethodNotAllowed("GET");
    return Verify();
  }
  return JsonError(404, "not_found", "no such endpoint");
}

HttpResponse AuditApi::List(const HttpRequest& req) {
  auto f = ParseFilter(req, d_.clock->NowMs());
  if (!f) return ErrorResponse(f.error());
  auto records = d_.trail->records().Find(*f);
  if (!records) return ErrorResponse(records.error());
  auto anchor = d_.trail->records().Anchor();
  if (!anchor) return ErrorResponse(anchor.error());
  json::array out;
  for (const AuditRecord& r : *records) out.push_back(AuditRecordJson(r));
  json::object body{{"records", std::move(out)}, {"anchor", AuditAnchorJson(*anchor)}};
  if (records->size() == f->limit) body["next_cursor"] = std::to_string(records->back().seq);
  return JsonResponse(200, body);
}

namespace {

// One page per turn of the owner thread, so a long log never holds up the controller.
void VerifyPages(boost::asio::io_context& ioc, std::shared_ptr<AuditVerification> v,
                 std::function<void(HttpResponse)> respond) {
  auto done = v->Step();
  if (!done) return respond(ErrorResponse(done.error()));
  if (*done) return respond(JsonResponse(200, AuditVerifyJson(v->anchor(), v->check())));
  boost::asio::post(ioc, [&ioc, v = std::move(v), respond = std::move(respond)]() mutable {
    VerifyPages(ioc, std::move(v), std::move(respond));
  });
}

}  // namespace

HttpResponse AuditApi::Verify() {
  auto v = d_.trail->Verify();
  if (!v) return ErrorResponse(v.error());
  HttpResponse r;
  r.later = [ioc = d_.ioc, v = std::shared_ptr<AuditVerification>(std::move(*v))](auto respond) {
    VerifyPages(*ioc, v, respond);
  };
  return r;
}

}  // namespace autovibe
