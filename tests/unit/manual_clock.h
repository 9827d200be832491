// A clock the test moves by hand.
#pragma once

#include <cstdint>

#include "common/core/time.h"

namespace autovibe::testing {

class ManualClock final : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = 1'700'000'000'000;
};

}  // namespace autovibe::testing
