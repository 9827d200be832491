// The NATS bus against a real nats-server: publish/subscribe, request with a deadline,
// JetStream with message ids and a durable consumer, and dropping of oversized messages.
#include "common/bus/bus.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "tests/support/catch_result.h"
#include "tests/support/nats_server.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Bus> Connect(const std::string& url, std::function<void()> on_connected = {}) {
  // The controller's user: these tests are of the bus itself, not of the machines' users.
  BusOptions o = AdminBus(url);
  o.on_connected = std::move(on_connected);
  auto bus = ConnectNats(std::move(o));
  REQUIRE(bus);
  return std::move(*bus);
}

// Collects what a stream consumer delivers, acking each message.
class StreamLog {
 public:
  Bus::StreamHandler Handler() {
    return [this](BusMessage m, std::function<void()> ack) {
      std::lock_guard l(mu_);
      seen_.push_back(m.data);
      ack();
    };
  }
  bool WaitFor(size_t n) {
    return WaitUntil(
        [&] {
          std::lock_guard l(mu_);
          return seen_.size() >= n;
        },
        10s);
  }
  std::vector<std::string> seen() {
    std::lock_guard l(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
};

}  // namespace

TEST_CASE("bus publishes, subscribes and answers requests within a deadline") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto a = Connect(nats.url());
  auto b = Connect(nats.url());

  std::mutex mu;
  std::vector<std::string> got;
  auto sub = b->Subscribe("t.hello", "test", 1024, [&](BusMessage m) {
    std::lock_guard lock(mu);
    got.push_back(m.data);
  });
  REQUIRE(sub);
  auto echo = b->Subscribe("t.echo", "test", 1024,
                           [&](BusMessage m) { b->Publish(m.reply, "echo:" + m.data); });
  REQUIRE(echo);

  // A subscription is live once a request through the same server round-trips.
  auto reply = a->Request("t.echo", "ping", 2s);
  REQUIRE(reply);
  CHECK(*reply == "echo:ping");
  REQUIRE(a->Publish("t.hello", "one"));
  REQUIRE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        return got.size() == 1;
      },
      5s));
  CHECK(got[0] == "one");

  // Nobody answers: a clear error, fast.
  auto none = a->Request("t.nobody", "x", 2s);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::kNoResponders);

  // Someone listens but never answers: the deadline holds.
  auto mute = b->Subscribe("t.mute", "test", 1024, [](BusMessage) {});
  REQUIRE(mute);
  auto start = std::chrono::steady_clock::now();
  auto late = a->Request("t.mute", "x", 300ms);
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ErrorCode::kTimeout);
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  // After the subscription is gone its handler is not called again, though the message
  // reaches the same connection (a second subscription on the subject sees it).
  std::atomic<int> witness{0};
  auto other = b->Subscribe("t.hello", "test", 1024, [&](BusMessage) { ++witness; });
  REQUIRE(other);
  sub->reset();
  REQUIRE(a->Publish("t.hello", "two"));
  REQUIRE(WaitUntil([&] { return witness.load() == 1; }, 5s));
  std::lock_guard l(mu);
  CHECK(got.size() == 1);
}

TEST_CASE("async requests answer many at once, each exactly once, without blocking") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto a = Connect(nats.url());
  auto b = Connect(nats.url());
  auto echo = b->Subscribe("t.echo", "test", 1024,
                           [&](BusMessage m) { b->Publish(m.reply, "echo:" + m.data); });
  REQUIRE(echo);
  auto mute = b->Subscribe("t.mute", "test", 1024, [](BusMessage) {});
  REQUIRE(mute);
  REQUIRE(a->Request("t.echo", "warm", 2s));

  std::mutex mu;
  std::map<std::string, std::vector<std::string>> answers;  // request -> what came back
  auto record = [&](std::string key) {
    return [&, key](Result<std::string> r) {
      std::lock_guard l(mu);
      answers[key].push_back(r ? *r : "error:" + std::string(ErrorName(r.error().code)));
    };
  };
  constexpr int kMany = 2000;
  for (int i = 0; i < kMany; ++i) {
    a->RequestAsync("t.echo", std::to_string(i), 5s, record(std::to_string(i)));
  }
  a->RequestAsync("t.nobody", "x", 5s, record("nobody"));
  const auto start = std::chrono::steady_clock::now();
  a->RequestAsync("t.mute", "x", 300ms, record("mute"));
  REQUIRE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        return answers.size() == kMany + 2;
      },
      10s));
  const auto waited = std::chrono::steady_clock::now() - start;
  std::lock_guard l(mu);
  for (int i = 0; i < kMany; ++i) {
    REQUIRE(answers[std::to_string(i)] == std::vector<std::string>{"echo:" + std::to_string(i)});
  }
  CHECK(answers["nobody"] == std::vector<std::string>{"error:no_responders"});
  CHECK(answers["mute"] == std::vector<std::string>{"error:timeout"});
  CHECK(waited >= 300ms);
  CHECK(waited < 3s);
}

TEST_CASE("an async request pending when its bus goes away is never answered") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto b = Connect(nats.url());
  auto mute = b->Subscribe("t.mute", "test", 1024, [](BusMessage) {});
  REQUIRE(mute);
  std::atomic<int> called{0};
  {
    auto a = Connect(nats.url());
    a->RequestAsync("t.mute", "x", 200ms, [&](Result<std::string>) { ++called; });
  }
  // Had the callback survived the bus, the deadline would have fired it by now.
  auto probe = Connect(nats.url());
  std::atomic<int> probed{0};
  probe->RequestAsync("t.mute", "y", 400ms, [&](Result<std::string>) { ++probed; });
  REQUIRE(WaitUntil([&] { return probed.load() == 1; }, 5s));
  CHECK(called.load() == 0);
}

TEST_CASE("bus drops oversized messages with a counter, and keeps going") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto a = Connect(nats.url());
  auto b = Connect(nats.url());
  std::atomic<int> small{0};
  auto sub = b->Subscribe("t.size", "sized", 100, [&](BusMessage) { ++small; });
  REQUIRE(sub);
  REQUIRE(a->Publish("t.size", std::string(101, 'x')));
  REQUIRE(a->Publish("t.size", std::string(100, 'x')));
  REQUIRE(WaitUntil([&] { return small.load() == 1 && b->Stats().RejectedTotal() == 1; }, 5s));
  auto rejected = b->Stats().Rejected();
  CHECK(rejected.at({"sized", "oversized"}) == 1);
}

TEST_CASE("stream publish stores a message id once and a durable consumer resumes where it left") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto bus = Connect(nats.url());
  REQUIRE(bus->EnsureStream({"T_EVENTS", {"tev.>"}}));
  REQUIRE(bus->EnsureStream({"T_EVENTS", {"tev.>"}}));  // idempotent

  auto first = bus->StreamPublish("tev.m1", "e1", "id-1", 2s);
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  auto again = bus->StreamPublish("tev.m1", "e1", "id-1", 2s);
  REQUIRE(again);
  CHECK(again->duplicate);
  REQUIRE(bus->StreamPublish("tev.m1", "e2", "id-2", 2s));

  StreamLog log;
  {
    auto consumer = bus->ConsumeStream("T_EVENTS", "ctl", "tev.>", 1024, log.Handler());
    REQUIRE(consumer);
    REQUIRE(log.WaitFor(2));
  }
  CHECK(log.seen() == std::vector<std::string>{"e1", "e2"});

  // Published while nobody consumed, and across a server restart: delivered once, in order.
  // The restart is a clean stop, as in production; acks are then on disk.
  REQUIRE(bus->StreamPublish("tev.m2", "e3", "id-3", 2s));
  nats.Stop();
  nats.Start();
  auto bus2 = Connect(nats.url());
  REQUIRE(WaitUntil([&] { return bus2->Connected(); }, 10s));
  auto consumer = bus2->ConsumeStream("T_EVENTS", "ctl", "tev.>", 1024, log.Handler());
  REQUIRE(consumer);
  REQUIRE(log.WaitFor(3));
  REQUIRE(bus2->StreamPublish("tev.m2", "e4", "id-4", 5s));
  REQUIRE(log.WaitFor(4));
  CHECK(log.seen() == std::vector<std::string>{"e1", "e2", "e3", "e4"});
}

TEST_CASE("a bus started before its server connects when the server comes up") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  nats.Kill();
  std::atomic<int> connects{0};
  auto bus = Connect(nats.url(), [&] { ++connects; });
  CHECK_FALSE(bus->Connected());
  CHECK_FALSE(bus->Request("t.x", "y", 100ms).has_value());
  nats.Start();
  REQUIRE(WaitUntil([&] { return bus->Connected() && connects.load() >= 1; }, 10s));
  std::atomic<int> got{0};
  auto sub = bus->Subscribe("t.after", "test", 64, [&](BusMessage) { ++got; });
  REQUIRE(sub);
  REQUIRE(bus->Publish("t.after", "hi"));
  REQUIRE(WaitUntil([&] { return got.load() == 1; }, 5s));
}
