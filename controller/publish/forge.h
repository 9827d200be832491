// A code forge's pull requests: the seam to GitHub, Gitea and Forgejo (their REST APIs share
// POST /repos/{owner}/{repo}/pulls). MakeHttpForge talks HTTP(S) through common/http's client;
// tests run it against the fake forge (tests/fakes/fake_forge.h) on loopback.
//
// Threads: OpenPullRequest blocks (up to two HTTP calls, each up to ForgeOptions::timeout):
// call it from a blocking-work thread, never from an owner thread (PullRequestOpener does
// that for an owner thread). A Forge holds no state between calls and may be used from
// several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct PullRequestSpec {
  std::string api_base;  // ForgeRepo::api_base: "https://api.github.com"
  std::string owner;
  std::string repo;
  std::string token;  // sent as "Authorization: Bearer T"; blanks around it are dropped
  std::string head;   // the branch with the change, in the same repository: "autovibe/t-1"
  std::string base;   // the branch to merge into: "main"
  std::string title;
  std::string body;  // markdown (PullRequestBody)
};

struct PullRequest {
  int64_t number = 0;
  std::string url;       // the web page: "https://github.com/o/r/pull/7"
  bool existed = false;  // an open one for the same head and base was there already
};

struct ForgeOptions {
  std::string ca_file;  // https: these CAs instead of the system's
  bool verify_tls = true;
  std::chrono::milliseconds timeout{30'000};  // per HTTP call
};

class Forge {
 public:
  virtual ~Forge() = default;

  // Opens a pull request of spec.head into spec.base, or finds the open one there is (GitHub's
  // 422 "A pull request already exists", Gitea's 409): then `existed` is set. So a retry after
  // an answer that was lost never opens a second one.
  //
  // Errors (IsRetryable tells which may succeed later):
  //   kUnavailable  the forge cannot be reached, timed out, answered 5xx or 429 (retry)
  //   kUnauthorized 401 or 403: the token is wrong, expired or lacks the right
  //   kNotFound     404: no such repository, or the token may not see it
  //   kBadRequest   422 (a branch that does not exist, ...) or a bad spec
  //   kTls, kBadUrl, kBadData (an answer that is not the API's), kFailed (anything else)
  // Messages carry the forge's own words, never the token.
  virtual Result<PullRequest> OpenPullRequest(const PullRequestSpec& spec) = 0;
};

std::unique_ptr<Forge> MakeHttpForge(ForgeOptions options = {});

// Whether an OpenPullRequest error may go away if tried again later.
bool IsRetryable(const Error& e);

}  // namespace autovibe
