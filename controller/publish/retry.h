// When to try a forge again: exponential backoff as a pure function of the attempt, and a
// blocking loop over Forge::OpenPullRequest that waits through an injected sleep (tests pass
// one that only records).
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "controller/publish/forge.h"

namespace autovibe {

struct RetryPolicy {
  int max_attempts = 6;  // the first try included
  std::chrono::milliseconds first_delay{2'000};
  double factor = 2.0;
  std::chrono::milliseconds max_delay{5 * 60'000};
  // Each delay is cut by up to this share at random, so publishers that failed together do not
  // come back together.
  double jitter = 0.2;
};

// The wait after `failed_attempts` tries (1 for the first) failed: first_delay * factor^(n-1),
// at most max_delay, less jitter * `unit_random` of it (`unit_random` in [0, 1)). Nothing when
// no attempt is left.
std::optional<std::chrono::milliseconds> RetryDelay(const RetryPolicy& policy, int failed_attempts,
                                                    double unit_random = 0);

// What a run of attempts came to.
struct PullRequestOutcome {
  Result<PullRequest> result = MakeError(ErrorCode::kInternal, "not tried");
  int attempts = 0;
};

using SleepFor = std::function<void(std::chrono::milliseconds)>;

// Calls forge.OpenPullRequest until it succeeds, fails for good (!IsRetryable) or the policy
// has no attempt left, sleeping RetryDelay (jitter at its middle) between tries. Blocks: a
// blocking-work thread only.
PullRequestOutcome OpenPullRequestWithRetries(Forge& forge, const PullRequestSpec& spec,
                                              const RetryPolicy& policy, const SleepFor& sleep);

}  // namespace autovibe
