#include <catch2/catch.hpp>

#include "autovibe/v1/budget.pb.h"
#include "common/wire/amounts.h"
#include "controller/agents/lease_service.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

// A request as an agent puts it on the wire.
std::string Wire(const LeaseRequest& r) {
  v1::LeaseRequest p;
  p.set_machine_id(r.machine_id);
  p.set_lease_id(r.lease_id);
  p.set_task_id(r.task_id);
  p.set_attempt(r.attempt);
  p.set_project(r.project);
  *p.mutable_need_total() = ToProto(r.need_total);
  *p.mutable_want_total() = ToProto(r.want_total);
  p.set_close(r.close);
  *p.mutable_consumed() = ToProto(r.consumed);
  return p.SerializeAsString();
}

// Stands in for our Bus seam (common/bus/bus.h), not for NATS: it keeps the lease handler and
// records what is published. The integration tests run the bus against a real nats-server.
class FakeLeaseBus final : public Bus {
 public:
  struct Sent {
    std::string subject;
    std::string data;
  };
  Handler handler;
  std::string subscribed;
  std::vector<Sent> sent;

  Result<void> Publish(std::string_view subject, std::string_view data) override {
    sent.push_back({std::string(subject), std::string(data)});
    return {};
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string subject, std::string, size_t,
                                                  Handler h) override {
    subscribed = std::move(subject);
    handler = std::move(h);
    return std::make_unique<Subscription>();
  }
  Result<std::string> Request(std::string_view, std::string_view, Duration) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  void RequestAsync(std::string_view, std::string_view, Duration, ReplyHandler done) override {
    done(MakeError(ErrorCode::kUnsupported, "not in this fake"));
  }
  Result<void> EnsureStream(const StreamConfig&) override { return {}; }
  Result<PublishAck> StreamPublish(std::string_view, std::string_view, std::string_view,
                                   Duration) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string, std::string, std::string, size_t,
                                                      StreamHandler) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  bool Connected() const override { return true; }
  BusStats& Stats() override { return stats_; }

  v1::LeaseReply LastReply() const {
    REQUIRE_FALSE(sent.empty());
    v1::LeaseReply r;
    REQUIRE(r.ParseFromString(sent.back().data));
    return r;
  }

 private:
  BusStats stats_;
};

struct ServiceFixture : BudgetFixture {
  boost::asio::io_context ioc;
  FakeLeaseBus bus;
  // A window long enough that only Commit() below commits.
  WriteBatch batch{*store, ioc, std::chrono::hours(1)};
  Refusals refusals;
  SenderRules rules{{&tasks, book.get(), &clock}};
  LeaseService service{LeaseServiceDeps{&ioc, &bus, &batch, book.get(), "av", &rules, &refusals}};

  ServiceFixture() {
    REQUIRE(SetUsd(Usd(1.00)));
    Place("t1", "m1", "demo");
    REQUIRE(service.Start());
  }

  void Deliver(const std::string& subject, const std::string& data) {
    bus.handler(BusMessage{subject, "_INBOX.reply", data});
    Run();
  }
  // Runs what the bus handler posted to the owner thread.
  void Run() {
    ioc.restart();
    ioc.poll();
  }
};

}  // namespace

TEST_CASE("the lease service answers a grant only after it is committed", "[budget]") {
  ServiceFixture f;
  CHECK(f.bus.subscribed == "av.lease.*");
  f.Deliver("av.lease.m1", Wire(BudgetFixture::Request("m1", "l1", "t1", Usd(0.10), Usd(0.20))));
  CHECK(f.bus.sent.empty());  // granted, but not yet durable
  CHECK(f.store->InTransaction());
  f.batch.Commit();
  REQUIRE(f.bus.sent.size() == 1);
  CHECK(f.bus.sent[0].subject == "_INBOX.reply");
  auto reply = f.bus.LastReply();
  CHECK(reply.ok());
  CHECK(reply.lease_id() == "l1");
  CHECK(reply.granted_total().usd_micros() == Usd(0.20));
  // Durable: a book loaded from the store knows the lease.
  f.Reload();
  REQUIRE(f.book->FindLease("l1") != nullptr);
  CHECK(f.book->FindLease("l1")->granted.usd_micros == Usd(0.20));
}

TEST_CASE("the lease service refuses junk and a machine speaking for another", "[budget]") {
  ServiceFixture f;
  f.Deliver("av.lease.m1", "\xff\xff not a protobuf");
  REQUIRE(f.bus.sent.size() == 1);  // answered at once: nothing to commit
  CHECK_FALSE(f.bus.LastReply().ok());
  CHECK_FALSE(f.bus.LastReply().error().empty());

  // m2 publishes on its own subject a request that names m1.
  f.Deliver("av.lease.m2", Wire(BudgetFixture::Request("m1", "l1", "t1", Usd(0.10), Usd(0.10))));
  REQUIRE(f.bus.sent.size() == 2);
  CHECK(f.bus.LastReply().error().find("does not match the subject") != std::string::npos);
  auto rejected = f.bus.Stats().Rejected();
  CHECK(rejected[{"lease", "undecodable"}] == 1);
  CHECK(rejected[{"lease", "subject_mismatch"}] == 1);
  CHECK(f.book->lease_count() == 0);
  CHECK(f.book->Outstanding("demo").usd_micros == 0);
}

TEST_CASE("decoding a lease request checks the subject against the machine", "[budget]") {
  FakeLeaseBus bus;
  auto req = BudgetFixture::Request("m1", "l1", "t1", 1, 1);
  auto ok = DecodeLeaseRequest(bus, {"av.lease.m1", "", Wire(req)}, "av");
  REQUIRE(ok);
  CHECK(ok->machine_id == "m1");
  CHECK(ok->lease_id == "l1");
  CHECK(ok->task_id == "t1");
  CHECK(ok->attempt == 1);
  CHECK(ok->project == "demo");
  CHECK(ok->need_total == req.need_total);
  CHECK(ok->want_total == req.want_total);
  CHECK_FALSE(ok->close);
  // Every resource of every figure crosses, and a close with what was consumed.
  LeaseRequest full = req;
  full.need_total = {.usd_micros = 1, .tokens = 2, .api_calls = 3, .task_ms = 4, .machine_ms = 5};
  full.want_total = {.usd_micros = 6, .tokens = 7, .api_calls = 8, .task_ms = 9, .machine_ms = 10};
  full.close = true;
  full.consumed = {
      .usd_micros = 11, .tokens = 12, .api_calls = 13, .task_ms = 14, .machine_ms = 15};
  auto closing = DecodeLeaseRequest(bus, {"av.lease.m1", "", Wire(full)}, "av");
  REQUIRE(closing);
  CHECK(closing->need_total == full.need_total);
  CHECK(closing->want_total == full.want_total);
  CHECK(closing->close);
  CHECK(closing->consumed == full.consumed);
  CHECK_FALSE(DecodeLeaseRequest(bus, {"xy.lease.m1", "", Wire(req)}, "av"));
  CHECK_FALSE(DecodeLeaseRequest(bus, {"av.lease.m1.x", "", Wire(req)}, "av"));
  req.machine_id = "";
  auto anonymous = DecodeLeaseRequest(bus, {"av.lease.", "", Wire(req)}, "av");
  REQUIRE_FALSE(anonymous);
  CHECK(anonymous.error().code == ErrorCode::kBadRequest);
}

TEST_CASE("a bad request through the service is an error reply, and changes nothing", "[budget]") {
  ServiceFixture f;
  f.Deliver("av.lease.m1", Wire(BudgetFixture::Request("m1", "l1", "t-nope", 1, 1)));
  REQUIRE(f.bus.sent.size() == 1);  // refused at once: nothing to commit
  CHECK(f.bus.LastReply().error() == "unknown task t-nope");
  CHECK(f.refusals.Of("lease", "unknown_task") == 1);
  CHECK(f.book->FindLease("l1") == nullptr);
  // A request nobody waits for is still applied, and answered to nobody.
  f.bus.handler(
      BusMessage{"av.lease.m1", "", Wire(BudgetFixture::Request("m1", "l2", "t1", 5, 5))});
  f.Run();
  f.batch.Commit();
  CHECK(f.bus.sent.size() == 1);
  CHECK(f.book->FindLease("l2") != nullptr);
}

TEST_CASE("a denial reaches the agent with the budget, the message and what to do", "[budget]") {
  ServiceFixture f;
  f.Deliver("av.lease.m1", Wire(BudgetFixture::Request("m1", "l1", "t1", Usd(2.00), Usd(2.00))));
  f.batch.Commit();
  const v1::LeaseReply denied = f.bus.LastReply();
  CHECK(denied.lease_id() == "l1");
  CHECK_FALSE(denied.ok());
  CHECK(denied.error().empty());
  CHECK(denied.exhausted());
  CHECK(denied.denied_resource() == "usd");
  CHECK(denied.on_exhaust() == "pause");
  CHECK(denied.message().find("budget usd (total) of project demo is exhausted") == 0);
  CHECK(denied.ttl_ms() == 30'000);
  CHECK(denied.granted_total().usd_micros() == 0);
}

TEST_CASE("a machine gets leases only for the task attempts placed on it", "[budget]") {
  ServiceFixture f;
  f.AddProject("beta");
  f.Place("t2", "m2", "beta");
  f.Deliver("av.lease.m1", Wire(BudgetFixture::Request("m1", "l1", "t1", Usd(0.10), Usd(0.20))));
  f.batch.Commit();
  REQUIRE(f.bus.LastReply().ok());
  const size_t answered = f.bus.sent.size();
  // m1 asks for m2's task; for an attempt of its own task that is not the current one; for
  // its own task under another project; m2 for the lease m1 holds; m1 closes a lease never
  // granted, for an attempt that is not the current one.
  f.Deliver("av.lease.m1",
            Wire(BudgetFixture::Request("m1", "l-x", "t2", Usd(40), Usd(40), "beta")));
  auto stale = BudgetFixture::Request("m1", "l-y", "t1", Usd(0.10), Usd(0.10));
  stale.attempt = 2;
  f.Deliver("av.lease.m1", Wire(stale));
  f.Deliver("av.lease.m1",
            Wire(BudgetFixture::Request("m1", "l-z", "t1", Usd(0.10), Usd(0.10), "beta")));
  auto theirs = BudgetFixture::Request("m2", "l1", "t1", Usd(0.90), Usd(0.90));
  f.Deliver("av.lease.m2", Wire(theirs));
  auto close = BudgetFixture::Request("m1", "l-w", "t1", 0, 0);
  close.close = true;
  close.attempt = 3;
  f.Deliver("av.lease.m1", Wire(close));
  // Each answered at once with an error, counted, and nothing granted or reserved.
  REQUIRE(f.bus.sent.size() == answered + 5);
  for (size_t i = answered; i < f.bus.sent.size(); ++i) {
    v1::LeaseReply r;
    REQUIRE(r.ParseFromString(f.bus.sent[i].data));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.error().empty());
  }
  CHECK(f.refusals.Of("lease", "not_your_task") == 1);
  CHECK(f.refusals.Of("lease", "stale_attempt") == 2);
  CHECK(f.refusals.Of("lease", "wrong_project") == 1);
  CHECK(f.refusals.Of("lease", "not_your_lease") == 1);
  CHECK(f.book->lease_count() == 1);
  CHECK(f.book->FindLease("l1")->granted.usd_micros == Usd(0.20));
  CHECK(f.book->Outstanding("beta").usd_micros == 0);
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.20));
  // The machine's own requests still go through: a top-up and the close of its lease.
  f.Deliver("av.lease.m1", Wire(BudgetFixture::Request("m1", "l1", "t1", Usd(0.30), Usd(0.30))));
  f.batch.Commit();
  CHECK(f.bus.LastReply().ok());
  CHECK(f.bus.LastReply().granted_total().usd_micros() == Usd(0.30));
}
