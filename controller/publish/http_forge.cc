// The Forge over HTTP: GitHub's REST API, which Gitea and Forgejo follow for pull requests.
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "common/http/client.h"
#include "controller/publish/forge.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string Encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}

std::optional<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

// The forge's own words for an error: GitHub's message and the messages (or codes and fields)
// of its `errors`; Gitea's message; else the start of the body.
std::string ForgeMessage(const HttpReply& r) {
  auto o = ParseObject(r.body);
  if (!o) return Trim(std::string_view(r.body).substr(0, 200));
  std::string out = Text(*o, "message");
  if (const json::value* errors = o->if_contains("errors"); errors && errors->is_array()) {
    for (const json::value& e : errors->as_array()) {
      if (!e.is_object()) continue;
      std::string one = Text(e.as_object(), "message");
      if (one.empty()) one = Text(e.as_object(), "field") + " " + Text(e.as_object(), "code");
      out += (out.empty() ? "" : "; ") + Trim(one);
    }
  }
  return out.substr(0, 500);
}

bool AlreadyExists(const HttpReply& r) {
  if (r.status == 409) return true;  // Gitea, Forgejo
  return r.status == 422 && ForgeMessage(r).find("already exists") != std::string::npos;
}

Error FromReply(const HttpReply& r, const std::string& what) {
  const std::string said = what + " answered " + std::to_string(r.status) + ": " + ForgeMessage(r);
  if (r.status >= 500 || r.status == 429) return MakeError(ErrorCode::kUnavailable, said);
  if (r.status == 401 || r.status == 403) {
    return MakeError(ErrorCode::kUnauthorized, said + " (check the forge token)");
  }
  if (r.status == 404) {
    return MakeError(ErrorCode::kNotFound,
                     said + " (no such repository, or the token may not see it)");
  }
  if (r.status == 400 || r.status == 422) return MakeError(ErrorCode::kBadRequest, said);
  return MakeError(ErrorCode::kFailed, said);
}

Result<PullRequest> FromJson(const json::object& o, const std::string& what) {
  const json::value* n = o.if_contains("number");
  const std::string url = Text(o, "html_url");
  if (n == nullptr || !n->is_int64() || n->as_int64() <= 0 || url.empty()) {
    return MakeError(ErrorCode::kBadData, what +
                                              " answered without a pull request's number "
                                              "and html_url");
  }
  return PullRequest{n->as_int64(), url, false};
}

std::string BranchOf(const json::object& pr, std::string_view side) {
  const json::value* v = pr.if_contains(side);
  return v != nullptr && v->is_object() ? Text(v->as_object(), "ref") : "";
}

class HttpForge final : public Forge {
 public:
  explicit HttpForge(ForgeOptions o) : o_(std::move(o)) {}

  // Forge
  Result<PullRequest> OpenPullRequest(const PullRequestSpec& spec) override {
    if (spec.api_base.empty() || spec.owner.empty() || spec.repo.empty() || spec.head.empty() ||
        spec.base.empty() || spec.title.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "a pull request needs an API base, owner, repository, head and base "
                       "branches and a title");
    }
    const std::string pulls = PullsUrl(spec);
    const std::string what = "the forge at " + spec.api_base;
    json::object req{
        {"title", spec.title}, {"head", spec.head}, {"base", spec.base}, {"body", spec.body}};
    auto reply = Send(spec, "POST", pulls, json::serialize(req));
    if (!reply) return reply.error();
    if (AlreadyExists(*reply)) return FindOpen(spec, what);
    if (reply->status != 201 && reply->status != 200) return FromReply(*reply, what);
    auto o = ParseObject(reply->body);
    if (!o) return MakeError(ErrorCode::kBadData, what + " answered something that is not JSON");
    return FromJson(*o, what);
  }

 private:
  std::string PullsUrl(const PullRequestSpec& spec) const {
    return spec.api_base + "/repos/" + Encode(spec.owner) + "/" + Encode(spec.repo) + "/pulls";
  }

  Result<HttpReply> Send(const PullRequestSpec& spec, const char* method, std::string url,
                         std::string body) const {
    HttpCall call;
    call.method = method;
    call.url = std::move(url);
    call.bearer_token = Trim(spec.token);
    call.body = std::move(body);
    call.timeout = o_.timeout;
    call.ca_file = o_.ca_file;
    call.verify_tls = o_.verify_tls;
    call.headers = {{"Accept", "application/vnd.github+json"},
                    {"X-GitHub-Api-Version", "2022-11-28"},
                    {"User-Agent", "autovibe"}};
    auto reply = SendHttp(call);
    if (reply) return reply;
    // A connection that broke mid-answer is as passing as one that was refused.
    if (reply.error().code == ErrorCode::kIo) {
      return MakeError(ErrorCode::kUnavailable, reply.error().message);
    }
    return reply.error();
  }

  // The open pull request of spec.head into spec.base. GitHub filters by head and base; Gitea
  // ignores those parameters, so the answer is filtered here too.
  Result<PullRequest> FindOpen(const PullRequestSpec& spec, const std::string& what) const {
    const std::string url = PullsUrl(spec) +
                            "?state=open&head=" + Encode(spec.owner + ":" + spec.head) +
                            "&base=" + Encode(spec.base) + "&per_page=100&limit=50";
    auto reply = Send(spec, "GET", url, "");
    if (!reply) return reply.error();
    if (reply->status != 200) return FromReply(*reply, what);
    boost::system::error_code ec;
    json::value v = json::parse(reply->body, ec);
    if (ec || !v.is_array()) {
      return MakeError(ErrorCode::kBadData, what + " listed pull requests as something else");
    }
    for (const json::value& item : v.as_array()) {
      if (!item.is_object()) continue;
      const json::object& pr = item.as_object();
      if (BranchOf(pr, "head") != spec.head || BranchOf(pr, "base") != spec.base) continue;
      auto found = FromJson(pr, what);
      if (found) found->existed = true;
      return found;
    }
    return MakeError(ErrorCode::kConflict, what + " says a pull request of " + spec.head +
                                               " into " + spec.base +
                                               " exists, but lists no open one");
  }

  ForgeOptions o_;
};

}  // namespace

std::unique_ptr<Forge> MakeHttpForge(ForgeOptions options) {
  return std::make_unique<HttpForge>(std::move(options));
}

bool IsRetryable(const Error& e) {
  return e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout;
}

}  // namespace autovibe
