// How a delivery is retried: what an attempt's outcome means, and how long until the next.
#pragma once

#include <chrono>
#include <optional>

#include "common/core/result.h"

namespace autovibe {

struct DeliveryRetry {
  int attempts = 6;  // in all, the first included
  // Doubles after each failed attempt: 20 s, 40 s, ... 320 s, about ten minutes for six.
  std::chrono::milliseconds first_retry{20'000};
};

enum class AttemptVerdict { kDelivered, kRetry, kGiveUp };

// A 2xx answer delivers. No answer (refused, timed out, cut off), 408, 429 and 5xx are tried
// again; other answers (the receiver refuses this body) and TLS failures (a certificate does
// not mend itself in minutes) are given up on at once. `error` is set when there was no answer.
AttemptVerdict JudgeAttempt(int status, std::optional<ErrorCode> error);

// The wait after `attempts_made` failed attempts (1: after the first).
std::chrono::milliseconds DeliveryRetryDelay(const DeliveryRetry& policy, int attempts_made);

}  // namespace autovibe
