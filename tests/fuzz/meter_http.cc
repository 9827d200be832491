// The agent's metering proxy as a tool reaches it: raw bytes on a loopback connection to the
// real proxy (worker-agent/meter/proxy.cc: Beast's request parser with the proxy's limits, the
// task's token checked on the head, the body read and priced, the call reserved, forwarded to
// the mock upstream and its answer, streamed or not, read for usage and settled).
//
// The ledger stands in for the agent's lease book: it knows one task, by kToken, and holds
// at most $1 for a call, as a budget nearly spent would (so output limits get lowered, and
// calls refused).
//
// Input: the bytes the tool sends.
#include <mutex>

#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/loopback.h"
#include "worker-agent/meter/proxy.h"

using namespace autovibe;
using namespace autovibe::meter;

namespace {

constexpr char kToken[] = "av-task-token-1";

class FuzzLedger final : public CallLedger {
 public:
  std::optional<MeteredTask> TaskForToken(std::string_view token) override {
    if (token != kToken) return std::nullopt;
    return MeteredTask{"t-1", 1, "demo", std::nullopt, false};
  }
  void Reserve(const MeteredTask&, const ReserveAsk& ask,
               std::function<void(Result<Reservation>)> done) override {
    const Amounts cap{.usd_micros = 1'000'000, .tokens = 1'000'000, .api_calls = 10};
    if (ask.worst.FitsIn(cap)) return done(Reservation{++reservations_, ask.worst});
    if (ask.least.FitsIn(cap))
      return done(Reservation{++reservations_, Amounts::Min(ask.worst, cap)});
    done(MakeError(ErrorCode::kBudgetExhausted, "budget usd of project demo is exhausted"));
  }
  void Settle(uint64_t, v1::UsageRecord) override {}

 private:
  uint64_t reservations_ = 0;
};

struct Proxy {
  FuzzLedger ledger;
  boost::asio::io_context ioc{1};
  std::unique_ptr<MeteringProxy> proxy;

  Proxy() {
    ProxyOptions o;
    o.upstreams["anthropic"] = {.url = "mock", .api_key = "sk-ant-real"};
    o.upstreams["openai"] = {.url = "mock", .api_key = "sk-openai-real"};
    o.limits = {.max_connections = 1 << 16, .max_per_client = 1 << 16};
    o.count_tokens_timeout = std::chrono::milliseconds(10);
    auto started = StartMeteringProxy(ioc, std::move(o), ledger, PriceTable::BuiltIn());
    if (!started) std::abort();
    proxy = std::move(*started);
  }
};

}  // namespace

AV_FUZZ_TARGET(meter_http) {
  static Proxy* p = new Proxy();  // never destroyed: calls may still be in flight at exit
  (void)fuzz::Exchange(p->ioc, p->proxy->port(), {reinterpret_cast<const char*>(data), size});
}
