// The small price table the meter's unit tests price calls with: one Anthropic and one OpenAI
// model, each with an output limit for requests that set none.
#pragma once

#include "worker-agent/meter/prices.h"

namespace autovibe::meter {

inline const PriceTable& TestPrices() {
  static const PriceTable table = *PriceTable::Parse(R"(
[models."claude-sonnet-4-5"]
aliases = ["claude-sonnet-4-5-20250929"]
input = 3.00
output = 15.00
cache_write = 3.75
cache_read = 0.30
max_output_tokens = 64000
[models."gpt-4o-mini"]
input = 0.15
output = 0.60
cache_write = 0.15
cache_read = 0.075
max_output_tokens = 16384
)");
  return table;
}

}  // namespace autovibe::meter
