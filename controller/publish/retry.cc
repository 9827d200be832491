#include "controller/publish/retry.h"

#include <algorithm>
#include <cmath>

namespace autovibe {

std::optional<std::chrono::milliseconds> RetryDelay(const RetryPolicy& p, int failed_attempts,
                                                    double unit_random) {
  if (failed_attempts < 1 || failed_attempts >= p.max_attempts) return std::nullopt;
  const double max = static_cast<double>(p.max_delay.count());
  // Past ~60 doublings the power overflows nothing that matters: it is capped at max_delay.
  const double grown = static_cast<double>(p.first_delay.count()) *
                       std::pow(std::max(p.factor, 1.0), std::min(failed_attempts - 1, 60));
  const double capped = std::min(grown, max);
  const double cut = std::clamp(p.jitter, 0.0, 1.0) * std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(capped * (1.0 - cut)));
}

PullRequestOutcome OpenPullRequestWithRetries(Forge& forge, const PullRequestSpec& spec,
                                              const RetryPolicy& policy, const SleepFor& sleep) {
  PullRequestOutcome out;
  for (;;) {
    ++out.attempts;
    out.result = forge.OpenPullRequest(spec);
    if (out.result || !IsRetryable(out.result.error())) return out;
    const auto delay = RetryDelay(policy, out.attempts, 0.5);
    if (!delay) return out;
    sleep(*delay);
  }
}

}  // namespace autovibe
