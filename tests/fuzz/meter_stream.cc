// The metering proxy's reading of what passes through it (worker-agent/meter): a tool's
// request body priced before it is forwarded (PlanCall: model, stream, max tokens, tools), and
// a provider's answer read for its usage, either as one JSON body or as a Server-Sent Events
// stream cut into pieces at places the input chooses (UsageReader, SseSplitter).
//
// Input: a byte for the API (messages, chat completions, responses) and the kind of body, a
// byte for where the pieces are cut, then the body.
#include <algorithm>

#include "tests/fuzz/fuzz_target.h"
#include "worker-agent/meter/request.h"
#include "worker-agent/meter/sse.h"
#include "worker-agent/meter/usage.h"

using namespace autovibe;
using namespace autovibe::meter;

AV_FUZZ_TARGET(meter_stream) {
  fuzz::Input in(data, size);
  const uint8_t mode = in.Byte();
  const size_t piece = 1 + in.Byte();
  const std::string_view body = in.Rest();
  const Api api = static_cast<Api>(mode % 3);
  switch ((mode / 3) % 4) {
    case 0: {  // a tool's request
      PricingRules rules{.allow_unpriced = (mode & 0x80) != 0};
      if (auto plan = PlanCall(api, std::string(body), PriceTable::BuiltIn(), rules)) {
        BoundInput(*plan, static_cast<int64_t>(piece) * 1000);
      }
      break;
    }
    case 1:  // a whole JSON answer
      (void)UsageFromJson(api, body);
      break;
    case 2: {  // an answer, streamed or not, in pieces
      UsageReader reader(api, (mode & 0x80) != 0);
      for (size_t at = 0; at < body.size(); at += piece) reader.Feed(body.substr(at, piece));
      (void)reader.Finish();
      break;
    }
    default: {  // the splitter alone, with a small cap and only some events wanted
      size_t events = 0;
      SseSplitter splitter(
          256, [&](std::string_view, std::string_view) { ++events; },
          [](std::string_view event) { return event != "ping"; });
      for (size_t at = 0; at < body.size() && !splitter.overflowed(); at += piece) {
        splitter.Feed(body.substr(at, piece));
      }
      break;
    }
  }
}
