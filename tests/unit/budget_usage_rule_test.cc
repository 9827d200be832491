// One usage rule on both sides of the wire (common/budget/usage.h): what the agent's lease
// book counts as consumed for a record must be what the controller settles for the same
// record, or a closed lease stays reserved (the agent counted more) or the agent spends past
// its grant (it counted less). Both sides are the real code: the agent's LeaseBook, and the
// controller's decoding of the record and its UsageAmounts.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <limits>
#include <optional>
#include <vector>

#include "common/budget/usage.h"
#include "common/wire/amounts.h"
#include "controller/agents/agent_event_codec.h"
#include "controller/budgets/lease.h"
#include "worker-agent/meter/lease_book.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Grants whatever is wanted: this test is about counting, not about limits.
class GrantAll final : public LeaseChannel {
 public:
  explicit GrantAll(asio::io_context& ioc) : ioc_(ioc) {}
  void Ask(const v1::LeaseRequest& req, std::function<void(Result<v1::LeaseReply>)> done) override {
    asio::post(ioc_, [req, done = std::move(done)] {
      v1::LeaseReply reply;
      reply.set_lease_id(req.lease_id());
      reply.set_ok(true);
      reply.set_ttl_ms(60'000);
      *reply.mutable_granted_total() = req.want_total();
      done(reply);
    });
  }

 private:
  asio::io_context& ioc_;
};

class Records final : public UsageSink {
 public:
  void Record(v1::UsageRecord r) override { records.push_back(std::move(r)); }
  std::vector<v1::UsageRecord> records;
};

// Settles `r` as the only record of a fresh task; returns what the agent's lease counts
// for it and, in `sent`, the record as it goes to the controller.
Amounts AgentCounts(const v1::UsageRecord& r, v1::UsageRecord& sent) {
  asio::io_context ioc;
  GrantAll controller(ioc);
  Records sink;
  LeaseBook book(ioc, controller, sink, LeaseBookOptions{}, nullptr);
  const MeteredTask task{"t-1", 1, "p"};
  book.TaskStarted(task, "tok");
  std::optional<Result<uint64_t>> reservation;
  const Amounts worst{.usd_micros = 1, .api_calls = 1};
  book.Reserve(task, {worst, worst}, [&](Result<Reservation> r) {
    if (r) {
      reservation = r->id;
    } else {
      reservation = r.error();
    }
  });
  for (int i = 0; i < 100 && !reservation; ++i) ioc.run_one();
  REQUIRE(reservation);
  REQUIRE(*reservation);
  book.Settle(**reservation, r);
  REQUIRE(sink.records.size() == 1);
  sent = sink.records.back();
  return book.Consumed("t-1");
}

v1::UsageRecord Record(std::string kind, std::string status, int64_t input, int64_t output,
                       int64_t cache_write, int64_t cache_read, int64_t cost, int64_t task_ms = 0,
                       int64_t machine_ms = 0) {
  v1::UsageRecord r;
  r.set_kind(std::move(kind));
  r.set_status(std::move(status));
  r.set_model("claude-sonnet");
  r.set_input_tokens(input);
  r.set_output_tokens(output);
  r.set_cache_write_tokens(cache_write);
  r.set_cache_read_tokens(cache_read);
  r.set_cost_micros(cost);
  r.set_task_ms(task_ms);
  r.set_machine_ms(machine_ms);
  return r;
}

}  // namespace

TEST_CASE("the agent's lease and the controller count a usage record alike, odd figures too",
          "[budget][meter]") {
  constexpr int64_t cap = kMaxUsageFigure;
  struct Case {
    const char* what;
    v1::UsageRecord record;
    Amounts expected;  // the controller's rule, as it has always been
  };
  const std::vector<Case> cases = {
      {"an ordinary call",
       Record("llm", "ok", 100, 20, 5, 7, 1'234),
       {.usd_micros = 1'234, .tokens = 132, .api_calls = 1}},
      {"a call without a kind (the ledger names it llm)",
       Record("", "ok", 1, 2, 0, 0, 3),
       {.usd_micros = 3, .tokens = 3, .api_calls = 1}},
      {"a call that never reached the provider", Record("llm", "unreachable", 0, 0, 0, 0, 0), {}},
      {"a call the provider took and never answered, charged its reservation",
       Record("llm", "no_answer", 4'000, 1'000, 0, 0, 21'000),
       {.usd_micros = 21'000, .tokens = 5'000, .api_calls = 1}},
      {"an answer without usage, charged its reservation",
       Record("llm", "no_usage", 4'000, 1'000, 0, 0, 21'000),
       {.usd_micros = 21'000, .tokens = 5'000, .api_calls = 1}},
      {"tool and machine time",
       Record("time", "ok", 0, 0, 0, 0, 0, 1'500, 2'000),
       {.task_ms = 1'500, .machine_ms = 2'000}},
      {"negative figures count as nothing",
       Record("llm", "ok", -100, 20, -5, 7, -5'000'000, -1),
       {.tokens = 27, .api_calls = 1}},
      {"the most negative figures",
       Record("time", "ok", kMin, kMin, kMin, kMin, kMin, kMin, kMin),
       {}},
      {"absurd figures are capped and their sum does not overflow",
       Record("llm", "upstream_error", kMax, kMax, kMax, kMax, kMax, kMax, kMax),
       {.usd_micros = cap, .tokens = 4 * cap, .api_calls = 1, .task_ms = cap, .machine_ms = cap}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    v1::UsageRecord sent;
    const Amounts agent = AgentCounts(c.record, sent);
    const Amounts controller = UsageAmounts(FromProto(sent));
    CHECK(agent == c.expected);
    CHECK(controller == c.expected);
  }
}

}  // namespace autovibe::meter
