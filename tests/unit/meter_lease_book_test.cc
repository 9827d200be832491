// The agent's lease book against a controller double that grants from one limit the way the
// controller does (spent + outstanding never above it) and answers asynchronously.
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <random>

#include "common/wire/amounts.h"
#include "worker-agent/meter/lease_book.h"

namespace autovibe::meter {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Grants usd from a single limit; other resources are unlimited. Keeps per-lease figures like
// the controller: outstanding = granted - settled (open) or final - settled (closed).
class FakeController final : public LeaseChannel {
 public:
  FakeController(asio::io_context& ioc, int64_t limit_micros) : ioc_(ioc), limit_(limit_micros) {}

  void Ask(const v1::LeaseRequest& req, std::function<void(Result<v1::LeaseReply>)> done) override {
    ++asks;
    asio::post(ioc_, [this, req, done = std::move(done)] {
      if (unreachable) {
        done(MakeError(ErrorCode::kTimeout, "no reply"));
        return;
      }
      done(Answer(req));
    });
  }

  void Spent(const v1::UsageRecord& r) {
    spent += r.cost_micros();
    leases[r.lease_id()].settled += r.cost_micros();
  }

  int64_t Outstanding() const {
    int64_t out = 0;
    for (const auto& [id, l] : leases) {
      out += l.closed ? std::max<int64_t>(0, l.final - l.settled) : l.granted - l.settled;
    }
    return out;
  }

  struct Lease {
    int64_t granted = 0;
    int64_t settled = 0;
    int64_t final = 0;
    bool closed = false;
  };
  std::map<std::string, Lease> leases;
  int64_t spent = 0;
  int asks = 0;
  int closes = 0;
  bool unreachable = false;
  int64_t max_seen = 0;  // the highest spent + outstanding ever seen
  int held_listed = 0;   // calls in flight the last request listed

 private:
  v1::LeaseReply Answer(const v1::LeaseRequest& req) {
    held_listed = req.held_size();
    Lease& l = leases[req.lease_id()];
    v1::LeaseReply rep;
    rep.set_lease_id(req.lease_id());
    rep.set_ttl_ms(30'000);
    if (req.close()) {
      ++closes;
      l.closed = true;
      l.final = req.consumed().usd_micros();
      rep.set_ok(true);
    } else {
      const int64_t need = std::max<int64_t>(0, req.need_total().usd_micros() - l.granted);
      const int64_t want = std::max<int64_t>(0, req.want_total().usd_micros() - l.granted);
      const int64_t available = limit_ - spent - Outstanding();
      if (need > available) {
        rep.set_ok(false);
        rep.set_exhausted(true);
        rep.set_denied_resource("usd");
        rep.set_on_exhaust("pause");
        rep.set_message("budget usd (total) of project p is exhausted");
      } else {
        l.granted += std::min(want, available);
        rep.set_ok(true);
      }
    }
    Amounts g;
    g.usd_micros = l.granted;
    g.tokens = g.api_calls = g.task_ms = g.machine_ms = int64_t{1} << 40;  // unlimited
    *rep.mutable_granted_total() = ToProto(g);
    max_seen = std::max(max_seen, spent + Outstanding());
    return rep;
  }

  asio::io_context& ioc_;
  int64_t limit_;
};

class Records final : public UsageSink {
 public:
  void Record(v1::UsageRecord r) override { records.push_back(std::move(r)); }
  std::vector<v1::UsageRecord> records;
};

struct Fixture {
  explicit Fixture(int64_t limit) : controller(ioc, limit) {
    book =
        std::make_unique<LeaseBook>(ioc, controller, sink, LeaseBookOptions{},
                                    [this](const TaskOutOfBudget& e) { exhausted.push_back(e); });
  }

  // Runs handlers until `done` or a deadline (never sleeps: the handlers are all queued).
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_for(5ms);
    }
    return done();
  }

  // Reserves a call whose worst case is `usd` and which may go with as little as `least_usd`
  // (its output limit lowered).
  Result<Reservation> ReserveRange(const MeteredTask& task, int64_t usd, int64_t least_usd) {
    std::optional<Result<Reservation>> got;
    const ReserveAsk ask{.worst = {.usd_micros = usd, .api_calls = 1},
                         .least = {.usd_micros = least_usd, .api_calls = 1}};
    book->Reserve(task, ask, [&](Result<Reservation> r) { got = std::move(r); });
    RunUntil([&] { return got.has_value(); });
    REQUIRE(got.has_value());
    return *got;
  }

  Result<uint64_t> ReserveNow(const MeteredTask& task, int64_t usd) {
    auto r = ReserveRange(task, usd, usd);
    if (!r) return r.error();
    CHECK(r->held.usd_micros == usd);
    return r->id;
  }

  void SettleNow(uint64_t id, int64_t cost) {
    v1::UsageRecord r;
    r.set_model("m");
    r.set_cost_micros(cost);
    r.set_status("ok");
    book->Settle(id, r);
    controller.Spent(sink.records.back());
  }

  asio::io_context ioc;
  FakeController controller;
  Records sink;
  std::vector<TaskOutOfBudget> exhausted;
  std::unique_ptr<LeaseBook> book;
};

const MeteredTask kTask{"t-1", 1, "p"};

TEST_CASE("a call within the lease is reserved and settled into a usage record", "[meter]") {
  Fixture f(1'000'000);
  f.book->TaskStarted(kTask, "tok-1");
  REQUIRE(f.book->TaskForToken("tok-1")->task_id == "t-1");
  REQUIRE_FALSE(f.book->TaskForToken("tok-2"));
  auto id = f.ReserveNow(kTask, 5'000);
  REQUIRE(id);
  f.SettleNow(*id, 1'234);
  const v1::UsageRecord& r = f.sink.records.back();
  CHECK(r.task_id() == "t-1");
  CHECK(r.attempt() == 1);
  CHECK(r.project() == "p");
  CHECK(r.kind() == "llm");
  CHECK_FALSE(r.lease_id().empty());
  CHECK(f.book->Consumed("t-1").usd_micros == 1'234);
}

TEST_CASE("a call the budget cannot cover fails as exhausted and the task is reported once",
          "[meter]") {
  Fixture f(30'000);
  f.book->TaskStarted(kTask, "tok");
  auto a = f.ReserveNow(kTask, 25'000);
  REQUIRE(a);
  f.SettleNow(*a, 25'000);
  auto b = f.ReserveNow(kTask, 10'000);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == ErrorCode::kBudgetExhausted);
  CHECK(b.error().message.find("exhausted") != std::string::npos);
  auto c = f.ReserveNow(kTask, 1);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == ErrorCode::kBudgetExhausted);
  REQUIRE(f.exhausted.size() == 1);
  CHECK(f.exhausted[0].task_id == "t-1");
  CHECK(f.exhausted[0].pause);
}

TEST_CASE("a call the budget cannot cover in full is given what is left, down to its least",
          "[meter]") {
  Fixture f(1'000'000);  // $1
  f.book->TaskStarted(kTask, "tok");
  // Worst case $1.80 (a long output limit), $0.20 with the limit lowered as far as it goes.
  auto a = f.ReserveRange(kTask, 1'800'000, 200'000);
  REQUIRE(a.has_value());
  CHECK(a->held.usd_micros <= 1'000'000);
  CHECK(a->held.usd_micros >= 200'000);
  CHECK(f.exhausted.empty());
  CHECK(f.controller.max_seen <= 1'000'000);
  f.SettleNow(a->id, 960'000);
  // $0.04 left: not even the least of the next call fits, and the task is paused.
  auto b = f.ReserveRange(kTask, 1'800'000, 200'000);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().code == ErrorCode::kBudgetExhausted);
  REQUIRE(f.exhausted.size() == 1);
  CHECK(f.exhausted[0].pause);
}

TEST_CASE(
    "a call the budget covers in full holds its worst case, even when it could go with "
    "less",
    "[meter]") {
  Fixture f(10'000'000);
  f.book->TaskStarted(kTask, "tok");
  // Asked while the task's first lease request is still unanswered: that answer (the first
  // chunk) does not cover it, but is not taken for all there is; the next request is.
  auto a = f.ReserveRange(kTask, 500'000, 10'000);
  REQUIRE(a.has_value());
  CHECK(a->held.usd_micros == 500'000);
}

TEST_CASE("a call served from what the lease holds is told to the controller within a tick",
          "[meter]") {
  asio::io_context ioc;
  FakeController controller(ioc, 10'000'000);
  Records sink;
  LeaseBookOptions options;
  options.time_tick = 50ms;
  LeaseBook book(ioc, controller, sink, options, nullptr);
  book.TaskStarted(kTask, "tok");
  std::optional<Result<Reservation>> got;
  const ReserveAsk ask{.worst = {.usd_micros = 1'000, .api_calls = 1},
                       .least = {.usd_micros = 1'000, .api_calls = 1}};
  auto run_until = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_for(5ms);
    }
    return done();
  };
  book.Reserve(kTask, ask, [&](Result<Reservation> r) { got = std::move(r); });
  REQUIRE(run_until([&] { return got.has_value(); }));  // after the first grant
  const int asks = controller.asks;
  // A second call fits in what the lease holds: no top-up, yet the next tick lists both.
  std::optional<Result<Reservation>> second;
  book.Reserve(kTask, ask, [&](Result<Reservation> r) { second = std::move(r); });
  REQUIRE(second.has_value());  // at once, from the lease
  CHECK(controller.asks == asks);
  REQUIRE(run_until([&] { return controller.asks > asks && controller.held_listed == 2; }));
}

TEST_CASE("many tasks reserving at once never hold more than the limit", "[meter]") {
  const int64_t limit = 1'000'000;
  Fixture f(limit);
  std::vector<MeteredTask> tasks;
  for (int i = 0; i < 64; ++i) {
    tasks.push_back({"t-" + std::to_string(i), 1, "p"});
    f.book->TaskStarted(tasks.back(), "tok-" + std::to_string(i));
  }
  std::mt19937 rng(7);
  std::vector<uint64_t> open;
  int refused = 0;
  int pending = 0;
  // Rounds of 64 concurrent reservations, settled in random order at a random share of the
  // worst case, until the budget refuses everyone.
  for (int round = 0; round < 200 && refused < 64; ++round) {
    refused = 0;
    pending = 64;
    for (auto& t : tasks) {
      Amounts worst;
      worst.usd_micros = 10'000 + static_cast<int64_t>(rng() % 20'000);
      worst.api_calls = 1;
      f.book->Reserve(t, {worst, worst}, [&, worst](Result<Reservation> r) {
        --pending;
        if (r) {
          open.push_back(r->id);
        } else {
          ++refused;
        }
      });
    }
    REQUIRE(f.RunUntil([&] { return pending == 0; }));
    std::shuffle(open.begin(), open.end(), rng);
    for (uint64_t id : open) f.SettleNow(id, 5'000 + static_cast<int64_t>(rng() % 5'000));
    open.clear();
  }
  CHECK(refused == 64);
  CHECK(f.controller.max_seen <= limit);
  CHECK(f.controller.spent <= limit);
  int64_t recorded = 0;
  for (const auto& r : f.sink.records) recorded += r.cost_micros();
  CHECK(recorded == f.controller.spent);
}

TEST_CASE("a task with many calls in flight is granted ahead in step with them", "[meter]") {
  // 64 calls of $0.01 arriving one after another and all held at once need $0.64: topped up
  // $0.05 at a time that would be a trip to the controller every few calls; the book asks for
  // what is held besides, so the lease doubles and the trips are few.
  Fixture f(10'000'000);
  f.book->TaskStarted(kTask, "tok-1");
  std::vector<uint64_t> held;
  for (int i = 0; i < 64; ++i) {
    auto id = f.ReserveNow(kTask, 10'000);
    REQUIRE(id);
    held.push_back(*id);
  }
  CHECK(f.controller.asks <= 10);
  CHECK(f.book->Granted("t-1").usd_micros >= 640'000);
  for (uint64_t id : held) f.SettleNow(id, 10'000);
  CHECK(f.controller.spent == 640'000);
  CHECK(f.controller.max_seen <= 10'000'000);
}

TEST_CASE("a controller out of reach fails calls the lease cannot cover", "[meter]") {
  Fixture f(1'000'000);
  f.controller.unreachable = true;
  f.book->TaskStarted(kTask, "tok");
  auto r = f.ReserveNow(kTask, 1'000);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(f.exhausted.empty());
}

TEST_CASE("an ended task refuses its token and closes its lease once calls settle", "[meter]") {
  Fixture f(1'000'000);
  f.book->TaskStarted(kTask, "tok");
  auto id = f.ReserveNow(kTask, 50'000);
  REQUIRE(id);
  f.book->TaskEnded("t-1");
  CHECK_FALSE(f.book->TaskForToken("tok"));
  auto later = f.ReserveNow(kTask, 1);
  REQUIRE_FALSE(later);
  CHECK(later.error().code == ErrorCode::kNotFound);
  f.ioc.restart();
  f.ioc.poll();  // what is queued runs; the close must still wait for the call
  CHECK(f.controller.closes == 0);
  f.SettleNow(*id, 20'000);
  REQUIRE(f.RunUntil([&] { return f.controller.closes == 1; }));
  const auto& lease = f.controller.leases.begin()->second;
  CHECK(lease.final == 20'000);
  CHECK(f.controller.Outstanding() == 0);
}

}  // namespace
}  // namespace autovibe::meter
