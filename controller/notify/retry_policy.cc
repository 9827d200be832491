#include "controller/notify/retry_policy.h"

#include <algorithm>

namespace autovibe {

AttemptVerdict JudgeAttempt(int status, std::optional<ErrorCode> error) {
  if (error) {
    return *error == ErrorCode::kTls || *error == ErrorCode::kBadUrl ? AttemptVerdict::kGiveUp
                                                                     : AttemptVerdict::kRetry;
  }
  if (status >= 200 && status < 300) return AttemptVerdict::kDelivered;
  if (status == 408 || status == 429 || status >= 500) return AttemptVerdict::kRetry;
  return AttemptVerdict::kGiveUp;
}

std::chrono::milliseconds DeliveryRetryDelay(const DeliveryRetry& policy, int attempts_made) {
  const int doublings = std::clamp(attempts_made - 1, 0, 20);
  return policy.first_retry * (int64_t{1} << doublings);
}

}  // namespace autovibe
