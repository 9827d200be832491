#include <catch2/catch.hpp>

#include "controller/agents/lease_service.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

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
    return MakeError("unsupported", "not in this fake");
  }
  void RequestAsync(std::string_view, std::string_view, Duration, ReplyHandler done) override {
    done(MakeError("unsupported", "not in this fake"));
  }
  Result<void> EnsureStream(const StreamConfig&) override { return {}; }
  Result<PublishAck> StreamPublish(std::string_view, std::string_view, std::string_view,
                                   Duration) override {
    return MakeError("unsupported", "not in this fake");
  }
  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string, std::string, std::string, size_t,
                                                      StreamHandler) override {
    return MakeError("unsupported", "not in this fake");
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
  LeaseService service{LeaseServiceDeps{&ioc, &bus, &batch, book.get(), "av"}};

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
  f.Deliver("av.lease.m1",
            BudgetFixture::Request("m1", "l1", "t1", Usd(0.10), Usd(0.20)).SerializeAsString());
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
  f.Deliver("av.lease.m2",
            BudgetFixture::Request("m1", "l1", "t1", Usd(0.10), Usd(0.10)).SerializeAsString());
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
  auto ok = DecodeLeaseRequest(bus, {"av.lease.m1", "", req.SerializeAsString()}, "av");
  REQUIRE(ok);
  CHECK(ok->lease_id() == "l1");
  CHECK_FALSE(DecodeLeaseRequest(bus, {"xy.lease.m1", "", req.SerializeAsString()}, "av"));
  CHECK_FALSE(DecodeLeaseRequest(bus, {"av.lease.m1.x", "", req.SerializeAsString()}, "av"));
  req.set_machine_id("");
  auto anonymous = DecodeLeaseRequest(bus, {"av.lease.", "", req.SerializeAsString()}, "av");
  REQUIRE_FALSE(anonymous);
  CHECK(anonymous.error().code == "bad_request");
}

TEST_CASE("a bad request through the service is an error reply after the commit", "[budget]") {
  ServiceFixture f;
  f.Deliver("av.lease.m1", BudgetFixture::Request("m1", "l1", "t-nope", 1, 1).SerializeAsString());
  f.batch.Commit();
  REQUIRE(f.bus.sent.size() == 1);
  CHECK(f.bus.LastReply().error() == "unknown task t-nope");
  // A request nobody waits for is still applied, and answered to nobody.
  f.bus.handler(BusMessage{"av.lease.m1", "",
                           BudgetFixture::Request("m1", "l2", "t1", 5, 5).SerializeAsString()});
  f.Run();
  f.batch.Commit();
  CHECK(f.bus.sent.size() == 1);
  CHECK(f.book->FindLease("l2") != nullptr);
}
