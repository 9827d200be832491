// The events feed on a real SQLite store: events reach followers only once committed, a
// follower resumes after an id, filters by kind and project hold within a token's projects,
// and a reader that falls behind is dropped with where to resume, never holding the rest up.
#include "controller/events/event_feed.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "controller/events/audit_events.h"
#include "controller/events/event_json.h"
#include "controller/model/audit_log.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/slow_client.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

struct Feed {
  TempDir dir;
  std::unique_ptr<Store> store = OpenSqliteStore(dir / "controller.db").value();
  boost::asio::io_context ioc;
  WriteBatch batch{*store, ioc};
  EventFeed feed{*store, batch, EventFeedOptions{.max_unsent_bytes = 4096, .page = 4}};

  Feed() { REQUIRE(feed.Start()); }

  void Add(std::string kind, std::string project = "") {
    batch.Open();
    REQUIRE(store->AppendEvent(
        {0, 1'700'000'000'000, std::move(kind), "", "{\"n\":1}", "", std::move(project)}));
  }
  void Commit() { REQUIRE(batch.Commit()); }
};

// The ids of the SSE events in `text`, in order.
std::vector<int64_t> Ids(const std::string& text) {
  std::vector<int64_t> out;
  for (size_t at = text.find("id: "); at != std::string::npos; at = text.find("\nid: ", at + 1)) {
    const size_t start = text[at] == '\n' ? at + 5 : at + 4;
    out.push_back(std::stoll(text.substr(start, text.find('\n', start) - start)));
  }
  return out;
}

}  // namespace

TEST_CASE("events feed: an event reaches a follower once its batch commits, not before",
          "[events]") {
  Feed f;
  auto client = std::make_shared<SlowClient>();
  f.feed.Follow({}, std::nullopt, true, client);
  client->Read();
  CHECK(client->received == "event: open\ndata: {\"last_id\":0}\n\n");  // where it starts
  f.Add("task.queued", "demo");
  client->Read();
  CHECK(Ids(client->received).empty());
  f.Commit();
  client->Read();
  CHECK(Ids(client->received) == std::vector<int64_t>{1});
  CHECK(client->received.find("event: task.queued\ndata: {") != std::string::npos);
  CHECK_FALSE(client->closed);
}

TEST_CASE("events feed: a follower resumes after an id, catching up a page at a time", "[events]") {
  Feed f;
  for (int i = 0; i < 10; ++i) f.Add("task.running", "demo");
  f.Commit();
  auto client = std::make_shared<SlowClient>();
  f.feed.Follow({}, 3, true, client);
  // One page (4) waits for the reader before the next is read.
  CHECK(Ids(client->queued) == std::vector<int64_t>{4, 5, 6, 7});
  client->Read();
  CHECK(Ids(client->queued) == std::vector<int64_t>{8, 9, 10});
  f.Add("task.succeeded", "demo");
  f.Commit();
  client->Read();
  CHECK(Ids(client->received) == std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10, 11});
}

TEST_CASE("events feed: with nobody following live, a commit only moves where readers start",
          "[events]") {
  Feed f;
  for (int i = 0; i < 6; ++i) f.Add("task.running", "demo");
  f.Commit();
  // A reader still catching up (a page unread) does not follow live yet: what commits meanwhile
  // reaches it from the store when it reads on.
  auto behind = std::make_shared<SlowClient>();
  f.feed.Follow({}, 0, true, behind);
  CHECK(Ids(behind->queued) == std::vector<int64_t>{1, 2, 3, 4});
  f.Add("task.succeeded", "demo");
  f.Commit();
  auto late = std::make_shared<SlowClient>();
  f.feed.Follow({}, std::nullopt, true, late);
  late->Read();
  CHECK(late->received == "event: open\ndata: {\"last_id\":7}\n\n");
  behind->Read();
  behind->Read();
  CHECK(Ids(behind->received) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});
  f.Add("task.succeeded", "demo");
  f.Commit();
  behind->Read();
  late->Read();
  CHECK(Ids(behind->received) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(Ids(late->received) == std::vector<int64_t>{8});
}

TEST_CASE("events feed: without follow, the backlog is sent and the stream ends", "[events]") {
  Feed f;
  for (int i = 0; i < 3; ++i) f.Add("machine.ready");
  f.Commit();
  auto client = std::make_shared<SlowClient>();
  f.feed.Follow({}, 0, false, client);
  client->Read();
  CHECK(Ids(client->received) == std::vector<int64_t>{1, 2, 3});
  CHECK(client->closed);
}

TEST_CASE("events feed: kinds, project and a token's scope filter what a follower gets",
          "[events]") {
  Feed f;
  auto all = std::make_shared<SlowClient>();
  auto tasks = std::make_shared<SlowClient>();
  auto scoped = std::make_shared<SlowClient>();
  f.feed.Follow({}, std::nullopt, true, all);
  f.feed.Follow({.kinds = {"task"}}, std::nullopt, true, tasks);
  f.feed.Follow({.scope = {"a"}}, std::nullopt, true, scoped);
  f.Add("task.queued", "a");    // 1
  f.Add("task.queued", "b");    // 2
  f.Add("machine.ready");       // 3: the fleet's, no project
  f.Add("budget.alert", "a");   // 4
  f.Add("taskish.thing", "a");  // 5: "task" is not a prefix of "taskish"
  f.Commit();
  for (auto* c : {all.get(), tasks.get(), scoped.get()}) c->Read();
  CHECK(Ids(all->received) == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(Ids(tasks->received) == std::vector<int64_t>{1, 2});
  CHECK(Ids(scoped->received) == std::vector<int64_t>{1, 4, 5});
  auto last = f.feed.Last({.kinds = {"task.queued"}, .scope = {"b"}}, 10).value();
  REQUIRE(last.size() == 1);
  CHECK(last[0].seq == 2);
}

TEST_CASE(
    "events feed: a reader that falls behind is dropped with where to resume, the others "
    "go on",
    "[events]") {
  Feed f;
  auto stuck = std::make_shared<SlowClient>();
  auto reader = std::make_shared<SlowClient>();
  f.feed.Follow({}, std::nullopt, true, stuck);
  f.feed.Follow({}, std::nullopt, true, reader);
  int64_t added = 0;
  while (!stuck->closed && added < 1000) {
    f.Add("task.running", "demo");
    f.Commit();
    ++added;
    reader->Read();
  }
  REQUIRE(stuck->closed);
  CHECK(added < 100);  // a 4 KiB bound, events of about 200 bytes
  CHECK(f.feed.dropped() == 1);
  const std::string& q = stuck->queued;
  const size_t dropped = q.rfind("event: dropped\ndata: ");
  REQUIRE(dropped != std::string::npos);
  auto data = boost::json::parse(q.substr(dropped + 21, q.find('\n', dropped + 21) - dropped - 21));
  CHECK(data.at("last_id").as_int64() == added);
  CHECK(Ids(q).back() == added);  // everything up to last_id was queued before the drop
  // The reader that keeps up is still there, and gets what comes next.
  f.Add("task.succeeded", "demo");
  f.Commit();
  reader->Read();
  CHECK(Ids(reader->received).size() == static_cast<size_t>(added + 1));
  CHECK_FALSE(reader->closed);
  CHECK(f.feed.followers() == 1);
}

TEST_CASE("events feed: a change undone with its operation never reaches a follower", "[events]") {
  Feed f;
  auto client = std::make_shared<SlowClient>();
  f.feed.Follow({}, std::nullopt, true, client);
  f.batch.Open();
  REQUIRE(f.store->Savepoint("op"));
  f.Add("task.queued", "demo");
  REQUIRE(f.store->RollbackTo("op"));
  REQUIRE(f.store->Release("op"));
  f.Add("task.cancelled", "demo");
  f.Commit();
  client->Read();
  CHECK(client->received.find("task.queued") == std::string::npos);
  CHECK(client->received.find("event: task.cancelled") != std::string::npos);
}

TEST_CASE("events feed: a reader that saw ids past the database's is told to start over",
          "[events]") {
  Feed f;
  for (int i = 0; i < 3; ++i) f.Add("machine.ready");
  f.Commit();
  auto client = std::make_shared<SlowClient>();
  f.feed.Follow({}, 50, true, client);  // saw 50 before a backup of 3 was restored
  client->Read();
  CHECK(client->received == "event: open\ndata: {\"last_id\":3,\"reset\":true}\n\n");
  f.Add("machine.lost");
  f.Commit();
  client->Read();
  CHECK(Ids(client->received) == std::vector<int64_t>{4});
}

TEST_CASE(
    "events feed: a listing looks through a bounded number of events, by project when "
    "it can",
    "[events]") {
  Feed f;
  f.Add("task.failed", "quiet");  // 1
  for (int i = 0; i < 40; ++i) f.Add("task.running", "busy");
  f.Commit();
  // A kind that is rare: the listing stops after max_scan events, not at the first one.
  EventFeed small(*f.store, f.batch, EventFeedOptions{.page = 4, .max_scan = 8});
  REQUIRE(small.Start());
  CHECK(small.Last({.kinds = {"task.failed"}}, 10).value().empty());
  // By project, the index finds it however far back it is.
  auto quiet = small.Last({.project = "quiet"}, 10).value();
  REQUIRE(quiet.size() == 1);
  CHECK(quiet[0].seq == 1);
  CHECK(small.Last({.scope = {"quiet"}}, 10).value().size() == 1);
}

TEST_CASE("events: bad kinds are refused with a clear error", "[events]") {
  CHECK(ParseEventKinds("task,budget.alert").value() ==
        std::vector<std::string>{"task", "budget.alert"});
  for (const char* bad : {"Task", "task.", ".task", "ta sk", "task\nevent: x", "a;b"}) {
    auto r = ParseEventKinds(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
    CHECK(r.error().message.find("bad event kind") != std::string::npos);
  }
  CHECK_FALSE(ParseEventKinds("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"));
}

TEST_CASE("events: what users and the controller decided becomes an event, failures do not",
          "[events]") {
  AuditRecord restore;
  restore.actor = "ops";
  restore.action = "POST /v1/checkpoints/{id}/restore";
  restore.object_kind = "checkpoint";
  restore.object_id = "c-1";
  restore.details = R"({"machine":"m-1"})";
  auto e = EventOfAudit(restore);
  REQUIRE(e);
  CHECK(e->kind == "checkpoint.restored");
  auto data = EventJson(*e);
  CHECK(data.at("object").as_string() == "c-1");
  CHECK(data.at("data").at("by").as_string() == "user");  // token names stay in the audit log
  CHECK(data.at("data").at("machine").as_string() == "m-1");

  restore.result = "error";
  CHECK_FALSE(EventOfAudit(restore));

  AuditRecord exhausted = Decision("budget_exhausted", "budget.alert", "project", "demo", "demo");
  CHECK(EventOfAudit(exhausted)->kind == "budget.exhausted");
  CHECK(EventOfAudit(exhausted)->project == "demo");
  AuditRecord approve;
  approve.actor = "admin";
  approve.action = "POST /v1/tasks/{id}/approve";
  approve.object_kind = "task";
  approve.object_id = "t-1";
  CHECK(EventOfAudit(approve)->task_id == "t-1");
  AuditRecord cancel = approve;
  cancel.action = "POST /v1/tasks/{id}/cancel";  // the task's own state change says it
  CHECK_FALSE(EventOfAudit(cancel));
}
