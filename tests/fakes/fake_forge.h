// A stand-in for a code forge's REST API for pull requests, for tests only: no GitHub, Gitea
// or Forgejo can run here. It follows GitHub's API where autovibe uses it:
//
//   POST  /repos/{owner}/{repo}/pulls         {title, head, base, body} -> 201 with the pull
//         request {number, html_url, url, state, title, body, head:{ref,label}, base:{ref,label}};
//         422 "Validation Failed" with "A pull request already exists for OWNER:BRANCH." when an
//         open one has the same head and base, or with missing_field errors; 400 for bad JSON
//   GET   /repos/{owner}/{repo}/pulls?head=OWNER:BRANCH&base=B&state=open|closed|all
//   GET   /repos/{owner}/{repo}/pulls/{number}
//   PATCH /repos/{owner}/{repo}/pulls/{number} {"state":"closed"}
//
// with `Authorization: token T` or `Bearer T` (401 "Requires authentication" or "Bad
// credentials" otherwise) and GitHub-shaped errors {"message","documentation_url","status"}.
// The same paths under /api/v1 answer as Gitea and Forgejo do: an existing pull request is a
// 409 {"message","url"}, and the list ignores `head` and `base` (a client filters itself).
//
// Test switches: FailNext answers the next N API calls with a 5xx (502 as an HTML page, as a
// load balancer sends it). For other processes: POST /__fail?count=N&status=S does the same,
// GET /__pulls lists every pull request made.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

struct FakePullRequest {
  std::string owner, repo;  // the base repository
  int64_t number = 0;
  std::string title, body;
  std::string head;        // the branch: "autovibe/t-1"
  std::string head_label;  // "owner:autovibe/t-1"
  std::string base;
  std::string state = "open";  // "closed"
};

struct FakeForgeOptions {
  // Tokens accepted (any of them); empty: any token, but one must be sent.
  std::set<std::string> tokens;
  // "owner/repo" names that exist; empty: every repository exists.
  std::set<std::string> repos;
};

class FakeForge {
 public:
  explicit FakeForge(FakeForgeOptions options = {});
  ~FakeForge();

  Result<void> Start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  // "http://127.0.0.1:PORT": the GitHub-style API base; url() + "/api/v1" the Gitea one.
  std::string url() const { return server_.url(); }

  // The next `count` API calls are answered `status` (500, 502, 503) and change nothing.
  void FailNext(int count, int status = 502);

  std::vector<FakePullRequest> PullRequests() const;
  // Every API call as "METHOD /path?query", in order (switches not included).
  std::vector<std::string> Requests() const;
  // Calls answered 401.
  int unauthorized() const;

 private:
  struct Call;
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Control(const HttpRequest& req);
  HttpResponse Api(const Call& call, const HttpRequest& req);
  HttpResponse Create(const Call& call, const HttpRequest& req);
  HttpResponse List(const Call& call, const HttpRequest& req) const;
  HttpResponse Update(const Call& call, FakePullRequest& pr, const HttpRequest& req);
  HttpResponse ToJson(int status, const FakePullRequest& pr) const;
  FakePullRequest* Find(const Call& call, int64_t number);

  FakeForgeOptions options_;
  mutable std::mutex mu_;
  std::vector<FakePullRequest> pulls_;
  std::vector<std::string> requests_;
  int fail_count_ = 0;
  int fail_status_ = 502;
  int unauthorized_ = 0;
  FakeServerThread server_;
};

}  // namespace autovibe::testing
