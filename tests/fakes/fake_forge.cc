#include "tests/fakes/fake_forge.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/core/text.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;

constexpr std::string_view kDocs = "https://docs.github.com/rest/pulls/pulls";

int64_t ToInt(std::string_view s) {
  int64_t out = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() ? out : -1;
}

HttpResponse Json(int status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = json::serialize(v);
  return r;
}

std::string QueryValue(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? "" : it->second;
}

}  // namespace

// One API call, its path taken apart: /[api/v1/]repos/{owner}/{repo}/pulls[/{number}].
struct FakeForge::Call {
  bool gitea = false;
  std::string owner, repo;
  int64_t number = 0;  // 0: the collection

  // An error as the forge being played words it.
  HttpResponse Error(int status, const std::string& message, json::array errors = {}) const {
    if (gitea) return Json(status, json::object{{"message", message}, {"url", "/api/swagger"}});
    json::object o{
        {"message", message}, {"documentation_url", kDocs}, {"status", std::to_string(status)}};
    if (!errors.empty()) o["errors"] = std::move(errors);
    return Json(status, o);
  }
};

FakeForge::FakeForge(FakeForgeOptions options) : options_(std::move(options)) {}

FakeForge::~FakeForge() = default;

Result<void> FakeForge::Start(const std::string& host, uint16_t port) {
  return server_.Start(host, port, [this](const HttpRequest& r) { return Handle(r); });
}

void FakeForge::FailNext(int count, int status) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
}

std::vector<FakePullRequest> FakeForge::PullRequests() const {
  std::lock_guard lock(mu_);
  return pulls_;
}

std::vector<std::string> FakeForge::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeForge::unauthorized() const {
  std::lock_guard lock(mu_);
  return unauthorized_;
}

HttpResponse FakeForge::Handle(const HttpRequest& req) {
  if (req.path.starts_with("/__")) return Control(req);
  std::lock_guard lock(mu_);
  requests_.push_back(req.method + " " + req.target);
  std::vector<std::string> seg = SplitPath(req.path);
  Call call;
  if (seg.size() >= 2 && seg[0] == "api" && seg[1] == "v1") {
    call.gitea = true;
    seg.erase(seg.begin(), seg.begin() + 2);
  }
  if (fail_count_ > 0) {
    --fail_count_;
    if (fail_status_ == 502) {
      HttpResponse r;
      r.status = 502;
      r.content_type = "text/html";
      r.body = "<html><body><h1>502 Bad Gateway</h1></body></html>\n";
      return r;
    }
    return call.Error(fail_status_, "Server Error");
  }
  if (seg.size() < 4 || seg.size() > 5 || seg[0] != "repos" || seg[3] != "pulls") {
    return call.Error(404, "Not Found");
  }
  call.owner = seg[1];
  call.repo = seg[2];
  if (seg.size() == 5) {
    call.number = ToInt(seg[4]);
    if (call.number <= 0) return call.Error(404, "Not Found");
  }
  return Api(call, req);
}

HttpResponse FakeForge::Control(const HttpRequest& req) {
  if (req.path == "/__fail" && req.method == "POST") {
    const int64_t count = ToInt(QueryValue(req, "count"));
    const int64_t status = ToInt(QueryValue(req, "status"));
    if (count < 0 || (status != -1 && (status < 500 || status > 599))) {
      return Json(400, json::object{{"message", "count=N[&status=5xx]"}});
    }
    FailNext(static_cast<int>(count), status == -1 ? 502 : static_cast<int>(status));
    return Json(200, json::object{{"failing", count}});
  }
  if (req.path == "/__pulls" && req.method == "GET") {
    json::array out;
    for (const FakePullRequest& pr : PullRequests()) {
      out.push_back(json::parse(ToJson(200, pr).body));
    }
    return Json(200, out);
  }
  return Json(404, json::object{{"message", "Not Found"}});
}

HttpResponse FakeForge::Api(const Call& call, const HttpRequest& req) {
  const std::string_view auth = HeaderValue(req, "authorization");
  std::string token;
  for (std::string_view scheme : {"token ", "Bearer ", "bearer "}) {
    if (auth.starts_with(scheme)) token = std::string(auth.substr(scheme.size()));
  }
  if (token.empty() || (!options_.tokens.empty() && !options_.tokens.contains(token))) {
    ++unauthorized_;
    return call.Error(401, auth.empty()
                               ? (call.gitea ? "token is required" : "Requires authentication")
                               : "Bad credentials");
  }
  if (!options_.repos.empty() && !options_.repos.contains(call.owner + "/" + call.repo)) {
    return call.Error(404, "Not Found");
  }
  if (call.number == 0) {
    if (req.method == "POST") return Create(call, req);
    if (req.method == "GET") return List(call, req);
    return call.Error(404, "Not Found");
  }
  FakePullRequest* pr = Find(call, call.number);
  if (pr == nullptr) return call.Error(404, "Not Found");
  if (req.method == "GET") return ToJson(200, *pr);
  if (req.method == "PATCH") return Update(call, *pr, req);
  return call.Error(404, "Not Found");
}

HttpResponse FakeForge::Create(const Call& call, const HttpRequest& req) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return call.Error(400, "Problems parsing JSON");
  const json::object& o = v.as_object();
  auto text = [&](std::string_view key) -> std::string {
    const json::value* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : "";
  };
  FakePullRequest pr{.owner = call.owner,
                     .repo = call.repo,
                     .title = text("title"),
                     .body = text("body"),
                     .head = text("head"),
                     .base = text("base")};
  json::array missing;
  for (const auto& [key, value] :
       {std::pair{"title", pr.title}, {"head", pr.head}, {"base", pr.base}}) {
    if (value.empty()) {
      missing.push_back(
          json::object{{"resource", "PullRequest"}, {"field", key}, {"code", "missing_field"}});
    }
  }
  if (!missing.empty()) return call.Error(422, "Validation Failed", std::move(missing));
  // "octo:feature" names a branch of a fork; a bare branch is one of the base repository.
  const size_t colon = pr.head.find(':');
  pr.head_label = colon == std::string::npos ? call.owner + ":" + pr.head : pr.head;
  if (colon != std::string::npos) pr.head = pr.head.substr(colon + 1);
  for (const FakePullRequest& other : pulls_) {
    if (other.owner == pr.owner && other.repo == pr.repo && other.state == "open" &&
        other.head_label == pr.head_label && other.base == pr.base) {
      if (call.gitea) {
        return call.Error(409, "pull request already exists for these targets [id: " +
                                   std::to_string(other.number) + ", head_branch: " + pr.head +
                                   ", base_branch: " + pr.base + "]");
      }
      return call.Error(422, "Validation Failed",
                        json::array{json::object{{"resource", "PullRequest"},
                                                 {"code", "custom"},
                                                 {"message", "A pull request already exists for " +
                                                                 pr.head_label + "."}}});
    }
  }
  int64_t last = 0;
  for (const FakePullRequest& other : pulls_) {
    if (other.owner == pr.owner && other.repo == pr.repo) last = std::max(last, other.number);
  }
  pr.number = last + 1;
  pulls_.push_back(pr);
  HttpResponse r = ToJson(201, pr);
  r.headers.emplace_back("Location", std::string(json::parse(r.body).at("url").as_string()));
  return r;
}

HttpResponse FakeForge::List(const Call& call, const HttpRequest& req) const {
  std::string state = QueryValue(req, "state");
  if (state.empty()) state = "open";
  std::string head = call.gitea ? "" : QueryValue(req, "head");
  const std::string base = call.gitea ? "" : QueryValue(req, "base");
  json::array out;
  for (const FakePullRequest& pr : pulls_) {
    if (pr.owner != call.owner || pr.repo != call.repo) continue;
    if (state != "all" && pr.state != state) continue;
    if (!head.empty() && pr.head_label != head) continue;
    if (!base.empty() && pr.base != base) continue;
    out.push_back(json::parse(ToJson(200, pr).body));
  }
  return Json(200, out);
}

HttpResponse FakeForge::Update(const Call& call, FakePullRequest& pr, const HttpRequest& req) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return call.Error(400, "Problems parsing JSON");
  if (const json::value* s = v.as_object().if_contains("state")) {
    if (!s->is_string() || (s->as_string() != "open" && s->as_string() != "closed")) {
      return call.Error(422, "Validation Failed");
    }
    pr.state = std::string(s->as_string());
  }
  return ToJson(200, pr);
}

HttpResponse FakeForge::ToJson(int status, const FakePullRequest& pr) const {
  const std::string repo = pr.owner + "/" + pr.repo;
  const std::string n = std::to_string(pr.number);
  return Json(
      status,
      json::object{{"id", pr.number + 1000},
                   {"number", pr.number},
                   {"url", url() + "/repos/" + repo + "/pulls/" + n},
                   {"html_url", url() + "/" + repo + "/pull/" + n},
                   {"state", pr.state},
                   {"title", pr.title},
                   {"body", pr.body},
                   {"head", json::object{{"ref", pr.head}, {"label", pr.head_label}}},
                   {"base", json::object{{"ref", pr.base}, {"label", pr.owner + ":" + pr.base}}}});
}

FakePullRequest* FakeForge::Find(const Call& call, int64_t number) {
  for (FakePullRequest& pr : pulls_) {
    if (pr.owner == call.owner && pr.repo == call.repo && pr.number == number) return &pr;
  }
  return nullptr;
}

}  // namespace autovibe::testing
