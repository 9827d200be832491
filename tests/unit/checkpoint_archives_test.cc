// GET /v1/checkpoints/{id}/archive in the controller (controller/api/checkpoint_archives.h):
// which holder it asks, falling back when one cannot give it, relaying pieces only while the
// client keeps up, and cutting the body off when the holder goes away mid-way. Agents are a
// fake of our own seam (ArchiveAgents) answering on the owner thread; the catalogue and fleet
// are the real ones over SQLite in a temp dir.
#include "controller/api/checkpoint_archives.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <optional>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/slow_client.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

namespace asio = boost::asio;

// Each machine's archive of the checkpoint, given in pieces of kPiece bytes, or an error.
class FakeArchives final : public ArchiveAgents {
 public:
  static constexpr size_t kPiece = 512 << 10;
  explicit FakeArchives(asio::io_context& ioc) : ioc_(ioc) {}

  std::map<std::string, Result<std::string>> archives;  // by machine
  // The machine fails every piece from this offset on.
  std::map<std::string, uint64_t> fails_at;
  std::vector<std::pair<std::string, uint64_t>> asked;  // (machine, offset)

  void Piece(const std::string& machine_id, const std::string& checkpoint_id,
             const std::string& export_id, uint64_t offset, Done<ArchivePiece> done) override {
    asked.emplace_back(machine_id, offset);
    Result<ArchivePiece> r =
        MakeError(ErrorCode::kUnavailable, "machine " + machine_id + " did not answer: timeout");
    auto it = archives.find(machine_id);
    auto f = fails_at.find(machine_id);
    if (it != archives.end() && !it->second) r = it->second.error();
    if (it != archives.end() && it->second && (f == fails_at.end() || offset < f->second)) {
      const std::string& a = *it->second;
      ArchivePiece p{a.substr(offset, kPiece)};
      p.last = offset + p.data.size() == a.size();
      if (p.last) p.total = a.size();
      r = std::move(p);
    }
    asio::post(ioc_, [done = std::move(done), r = std::move(r)] { done(r); });
  }

 private:
  asio::io_context& ioc_;
};

struct NoAgents final : CheckpointAgents {
  void TakeCheckpoint(const std::string&, const std::string&, const std::string&,
                      Done<std::vector<CheckpointReport>> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void Restore(const std::string&, const std::string&, const std::string&,
               Done<std::vector<CheckpointReport>> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void Diff(const std::string&, const std::string&, const std::string&,
            Done<CheckpointDiff> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void Delete(const std::string&, const std::string&, Done<void> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void Verify(const std::string&, const std::string&, Done<void> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void ListHeld(const std::string&, Done<std::vector<std::string>> done) override {
    done(MakeError(ErrorCode::kUnsupported, "no"));
  }
  void Pin(const std::string&, const std::vector<std::string>&) override {}
  Result<TransferReport> Transfer(const TransferRequest&) override {
    return MakeError(ErrorCode::kUnsupported, "no");
  }
};

struct NoTasks final : TaskFacts {
  bool Unfinished(std::string_view) const override { return false; }
  std::string MachineOf(std::string_view) const override { return ""; }
  std::vector<std::string> StartingPoints() const override { return {}; }
  bool IsStartingPoint(std::string_view) const override { return false; }
};

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + i / 1000);
  return s;
}

struct Fixture {
  Fixture() {
    REQUIRE(service.Load());
    for (const std::string name : {"alpha", "beta"}) {
      MachineRegistration r;
      r.name = name;
      r.agent_version = "0.1.0";
      auto out = fleet.Register(r);
      REQUIRE(out.accepted);
      ids[name] = out.machine_id;
    }
    // cp-1, taken on alpha, with a copy on beta.
    CheckpointReport c{.id = "cp-1", .machine_id = ids["alpha"], .root = "root-1"};
    service.ApplyCreated(ids["alpha"], {c, 1}, tasks);
    service.ApplyCreated(ids["beta"], {c, 1}, tasks);
    REQUIRE(service.Find("cp-1")->copies.size() == 2);
  }

  // The answer to GET .../archive, once it is given.
  HttpResponse Get(const std::string& id) {
    HttpResponse r = archives.Export(id);
    if (!r.later) return r;
    std::optional<HttpResponse> out;
    r.later([&](HttpResponse answer) { out = std::move(answer); });
    REQUIRE(RunUntil([&] { return out.has_value(); }));
    return std::move(*out);
  }

  bool RunUntil(const std::function<bool()>& done) {
    ioc.restart();
    auto work = asio::make_work_guard(ioc);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
  }
  void Poll() {
    ioc.restart();
    ioc.poll();
  }

  testing::TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  SystemClock clock;
  Fleet fleet{*store, clock, FleetOptions{}};
  asio::io_context ioc;
  WriteBatch batch{*store, ioc};
  NoAgents agents;
  NoTasks tasks;
  CheckpointService service{CheckpointServiceDeps{&ioc, &agents, &batch, &fleet, store.get(), 0}};
  FakeArchives pieces{ioc};
  CheckpointArchives archives{CheckpointArchivesDeps{&service, &fleet, &pieces}};
  std::map<std::string, std::string> ids;
};

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace

TEST_CASE("archive download: a ready holder first, the next when it cannot give it") {
  Fixture f;
  REQUIRE(f.fleet.Transition(f.ids["alpha"], MachineState::kBusy, "test"));
  const std::string archive = Bytes(1'300'000);
  f.pieces.archives.emplace(f.ids["alpha"], archive);
  f.pieces.archives.emplace(f.ids["beta"],
                            MakeError(ErrorCode::kCorrupt, "machine beta: a chunk is corrupt"));

  HttpResponse r = f.Get("cp-1");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/zstd");
  CHECK(Header(r, "Content-Disposition") == "attachment; filename=\"cp-1.tar.zst\"");
  CHECK(Header(r, "X-Autovibe-Machine") == f.ids["alpha"]);
  REQUIRE(f.pieces.asked.size() == 2);
  CHECK(f.pieces.asked[0].first == f.ids["beta"]);  // ready, so asked first
  CHECK(f.pieces.asked[1].first == f.ids["alpha"]);

  auto client = std::make_shared<SlowClient>();
  r.on_stream(client);
  REQUIRE(f.RunUntil([&] { return client->closed; }));
  client->Read();
  CHECK_FALSE(client->aborted);
  CHECK(client->received == archive);
}

TEST_CASE("archive download: pieces are asked for only while the client keeps up") {
  Fixture f;
  const std::string archive = Bytes(20 << 20);  // 40 pieces
  f.pieces.archives.emplace(f.ids["alpha"], archive);
  f.pieces.archives.emplace(f.ids["beta"], archive);
  HttpResponse r = f.Get("cp-1");
  REQUIRE(r.status == 200);
  auto client = std::make_shared<SlowClient>();
  r.on_stream(client);
  size_t most_queued = 0;
  while (!client->closed) {
    f.Poll();
    most_queued = std::max(most_queued, client->queued.size());
    if (client->when_sent) {
      // Waiting on the client: nothing more is asked until it reads.
      const size_t asked = f.pieces.asked.size();
      f.Poll();
      CHECK(f.pieces.asked.size() == asked);
      client->Read();
    }
  }
  client->Read();
  CHECK(client->received == archive);
  // What waited for the client stayed within the 2 MiB mark and one piece.
  CHECK(most_queued <= (2 << 20) + FakeArchives::kPiece);
}

TEST_CASE("archive download: a holder lost mid-way cuts the body off") {
  Fixture f;
  const std::string archive = Bytes(3 << 20);
  f.pieces.archives.emplace(f.ids["alpha"], archive);
  f.pieces.archives.emplace(f.ids["beta"], archive);
  f.pieces.fails_at[f.ids["alpha"]] = 1 << 20;
  f.pieces.fails_at[f.ids["beta"]] = 1 << 20;
  HttpResponse r = f.Get("cp-1");
  REQUIRE(r.status == 200);
  auto client = std::make_shared<SlowClient>();
  r.on_stream(client);
  REQUIRE(f.RunUntil([&] { return client->closed; }));
  CHECK(client->aborted);
  CHECK(client->queued.size() == 1 << 20);
}

TEST_CASE("archive download: unknown, unreachable and failing holders get clear errors") {
  Fixture f;
  CHECK(f.Get("cp-none").status == 404);

  f.pieces.archives.emplace(f.ids["alpha"], MakeError(ErrorCode::kNotFound, "alpha lacks it"));
  HttpResponse failing = f.Get("cp-1");  // beta does not answer
  CHECK(failing.status == 503);
  CHECK(failing.body.find("could send its archive") != std::string::npos);
  CHECK(failing.body.find("alpha lacks it") != std::string::npos);
  CHECK(failing.body.find("timeout") != std::string::npos);

  REQUIRE(f.fleet.Transition(f.ids["alpha"], MachineState::kLost, "test"));
  REQUIRE(f.fleet.Transition(f.ids["beta"], MachineState::kLost, "test"));
  f.pieces.asked.clear();
  HttpResponse lost = f.Get("cp-1");
  CHECK(lost.status == 503);
  CHECK(lost.body.find("no machine holding checkpoint cp-1 can be reached now") !=
        std::string::npos);
  CHECK(lost.body.find("(alpha) is lost") != std::string::npos);
  CHECK(f.pieces.asked.empty());
}
