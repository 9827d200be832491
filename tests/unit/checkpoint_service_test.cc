#include "controller/checkpoints/checkpoint_service.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"

using namespace autovibe;
using autovibe::testing::TempDir;

namespace {

namespace asio = boost::asio;

// Agents as the checkpoint service sees them (our own seam, CheckpointAgents), each machine's
// checkpoint store a map in memory. It answers as the bus edge does: later, on the owner
// thread, with the agent's error codes; a transfer runs on the caller's thread and leaves the
// checkpoint in the destination's store.
class StoreAgents final : public CheckpointAgents {
 public:
  explicit StoreAgents(asio::io_context& ioc) : ioc_(ioc) {}

  // What a machine's store holds, set by the test.
  void Put(const std::string& machine, const CheckpointReport& c) {
    std::lock_guard lock(mu_);
    stores_[machine][c.id] = c;
  }
  void Lose(const std::string& machine, const std::string& id) {
    std::lock_guard lock(mu_);
    stores_[machine].erase(id);
  }
  bool Holds(const std::string& machine, const std::string& id) const {
    std::lock_guard lock(mu_);
    auto s = stores_.find(machine);
    return s != stores_.end() && s->second.contains(id);
  }
  // The checkpoints last pinned on a machine; nothing when it never heard any.
  std::optional<std::set<std::string>> PinsOf(const std::string& machine) const {
    std::lock_guard lock(mu_);
    auto it = pins_.find(machine);
    if (it == pins_.end()) return std::nullopt;
    return it->second;
  }

  // Transfers wait (having started) until released: to act while a copy is in flight.
  void HoldTransfers() {
    std::lock_guard lock(mu_);
    hold_transfers_ = true;
  }
  void ReleaseTransfers() {
    {
      std::lock_guard lock(mu_);
      hold_transfers_ = false;
    }
    cv_.notify_all();
  }
  bool TransferWaiting() const {
    std::lock_guard lock(mu_);
    return transfer_waiting_;
  }
  // Lists are made when asked but their answers travel until delivered.
  void HoldLists() { hold_lists_ = true; }
  void DeliverLists() {
    hold_lists_ = false;
    for (auto& send : held_lists_) asio::post(ioc_, std::move(send));
    held_lists_.clear();
  }

  // CheckpointAgents
  void TakeCheckpoint(const std::string& machine_id, const std::string& task_id,
                      const std::string& label, Done<std::vector<CheckpointReport>> done) override {
    CheckpointReport c{.id = "cp-taken-" + std::to_string(++taken_),
                       .machine_id = machine_id,
                       .task_id = task_id,
                       .trigger = "manual",
                       .label = label,
                       .created_at_ms = 1000 + taken_};
    c.root = "root-" + c.id;
    Put(machine_id, c);
    Answer(std::move(done), std::vector<CheckpointReport>{c});
  }
  void Restore(const std::string& machine_id, const std::string& checkpoint_id,
               const std::string& task_id, Done<std::vector<CheckpointReport>> done) override {
    if (!Holds(machine_id, checkpoint_id)) return Answer(std::move(done), Missing(checkpoint_id));
    CheckpointReport before{.id = "cp-before-" + std::to_string(++taken_),
                            .machine_id = machine_id,
                            .task_id = task_id,
                            .trigger = "before_restore",
                            .created_at_ms = 1000 + taken_};
    before.root = "root-" + before.id;
    Put(machine_id, before);
    Answer(std::move(done), std::vector<CheckpointReport>{before});
  }
  void Diff(const std::string& machine_id, const std::string& from, const std::string& to,
            Done<CheckpointDiff> done) override {
    if (!Holds(machine_id, from) || !Holds(machine_id, to)) {
      return Answer(std::move(done), Missing(from + " or " + to));
    }
    Answer(std::move(done), CheckpointDiff{});
  }
  void Delete(const std::string& machine_id, const std::string& checkpoint_id,
              Done<void> done) override {
    std::unique_lock lock(mu_);
    const bool held = stores_[machine_id].erase(checkpoint_id) > 0;
    lock.unlock();
    Answer(std::move(done), held ? Result<void>{} : Result<void>(Missing(checkpoint_id)));
  }
  void Verify(const std::string& machine_id, const std::string& checkpoint_id,
              Done<void> done) override {
    const bool held = Holds(machine_id, checkpoint_id);
    Answer(std::move(done), held ? Result<void>{} : Result<void>(Missing(checkpoint_id)));
  }
  void ListHeld(const std::string& machine_id, Done<std::vector<std::string>> done) override {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, c] : stores_[machine_id]) ids.push_back(id);
    }
    auto send = [done = std::move(done), ids = std::move(ids)] { done(ids); };
    if (hold_lists_) return held_lists_.push_back(std::move(send));
    asio::post(ioc_, std::move(send));
  }
  void Pin(const std::string& machine_id, const std::vector<std::string>& ids) override {
    std::lock_guard lock(mu_);
    pins_[machine_id] = {ids.begin(), ids.end()};
  }
  Result<TransferReport> Transfer(const TransferRequest& r) override {
    std::unique_lock lock(mu_);
    // The source's copy is read first; it lands (imported) once the objects have travelled.
    auto& from = stores_[r.from_machine];
    auto it = from.find(r.checkpoint_id);
    if (it == from.end()) return Missing(r.checkpoint_id);
    if (it->second.root != r.expected_root) return MakeError(ErrorCode::kConflict, "another root");
    const CheckpointReport c = it->second;
    transfer_waiting_ = true;
    cv_.wait(lock, [&] { return !hold_transfers_; });
    transfer_waiting_ = false;
    if (r.cancelled && r.cancelled->load()) {
      return MakeError(ErrorCode::kUnavailable, "the controller is stopping");
    }
    auto& to = stores_[r.to_machine];
    const bool had = to.contains(c.id);
    to[c.id] = c;
    return TransferReport{.checkpoint = c,
                          .objects = 1,
                          .sent_objects = had ? 0u : 1u,
                          .sent_bytes = had ? 0u : 100u};
  }

 private:
  static Error Missing(const std::string& what) {
    return MakeError(ErrorCode::kNotFound, "no checkpoint " + what);
  }
  template <class T>
  void Answer(Done<T> done, std::type_identity_t<Result<T>> r) {
    asio::post(ioc_, [done = std::move(done), r = std::move(r)] { done(r); });
  }

  asio::io_context& ioc_;
  mutable std::mutex mu_;  // the transfer runs on the service's transfer thread
  std::condition_variable cv_;
  std::map<std::string, std::map<std::string, CheckpointReport>> stores_;
  std::map<std::string, std::set<std::string>> pins_;
  bool hold_transfers_ = false;
  bool transfer_waiting_ = false;
  bool hold_lists_ = false;
  std::vector<std::function<void()>> held_lists_;
  int taken_ = 0;
};

// Tasks as the service asks about them: where each runs, which are unfinished, and the
// checkpoints unfinished tasks were submitted with.
struct Tasks final : TaskFacts {
  std::map<std::string, std::string, std::less<>> machine_of;
  std::set<std::string, std::less<>> unfinished;
  std::vector<std::string> starting_points;

  bool Unfinished(std::string_view task) const override { return unfinished.contains(task); }
  std::string MachineOf(std::string_view task) const override {
    auto it = machine_of.find(task);
    return it == machine_of.end() ? "" : it->second;
  }
  std::vector<std::string> StartingPoints() const override { return starting_points; }
  bool IsStartingPoint(std::string_view id) const override {
    return std::find(starting_points.begin(), starting_points.end(), id) != starting_points.end();
  }
  // The task runs (unfinished) on the machine.
  void Runs(const std::string& task, const std::string& machine) {
    machine_of[task] = machine;
    unfinished.insert(task);
  }
};

CheckpointReport Cp(const std::string& id, const std::string& machine, const std::string& task,
                    int64_t created_at_ms, const std::string& parent = "") {
  return {.id = id,
          .machine_id = machine,
          .task_id = task,
          .parent = parent,
          .trigger = "auto",
          .workspace = "/ws",
          .root = "root-" + id,
          .files = 3,
          .bytes = 30,
          .stored_bytes = 20,
          .created_at_ms = created_at_ms};
}

MachineRegistration Req(const std::string& name) {
  MachineRegistration r;
  r.name = name;
  r.agent_version = "0.1.0";
  r.tools.push_back("shell");
  return r;
}

struct Fixture {
  explicit Fixture(int replicas = 0) : service(MakeService(replicas)) {}
  ~Fixture() {
    agents.ReleaseTransfers();  // a failed test may have left one waiting
    service.reset();
  }

  std::unique_ptr<CheckpointService> MakeService(int replicas) {
    auto s = std::make_unique<CheckpointService>(
        CheckpointServiceDeps{&ioc, &agents, &batch, &fleet, store.get(), replicas});
    REQUIRE(s->Load());
    return s;
  }

  std::string Machine(const std::string& name) {
    auto r = fleet.Register(Req(name));
    REQUIRE(r.accepted);
    return r.machine_id;
  }
  void Lost(const std::string& machine) {
    REQUIRE(fleet.Transition(machine, MachineState::kLost, "test"));
  }

  // An agent took a checkpoint: it is in the machine's store and its event is applied.
  void Taken(const std::string& machine, const CheckpointReport& c, uint32_t attempt = 1) {
    agents.Put(machine, c);
    service->ApplyCreated(machine, CheckpointCreatedEvent{c, attempt}, tasks);
  }

  // Runs the owner thread until `done` holds; false when it does not within 10 s.
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
  // Runs what is ready on the owner thread now.
  void Poll() {
    ioc.restart();
    ioc.poll();
  }
  // Asks the service and runs the owner thread until it answers.
  template <class T>
  Result<T> Await(const std::function<void(CheckpointService::Done<T>)>& ask) {
    std::optional<Result<T>> out;
    ask([&](Result<T> r) { out = std::move(r); });
    REQUIRE(RunUntil([&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<BranchOutcome> Branch(const std::string& id, const std::string& machine) {
    return Await<BranchOutcome>([&](auto done) { service->Branch(id, machine, done); });
  }
  Result<std::vector<std::string>> Delete(const std::string& id) {
    return Await<std::vector<std::string>>([&](auto done) { service->Delete(id, tasks, done); });
  }

  // The catalogue as the database has it once the batch is committed: id -> (parent, copies).
  std::map<std::string, std::pair<std::string, std::set<std::string>>> Stored() {
    batch.Commit();
    auto rows = store->checkpoints().LoadCheckpoints();
    REQUIRE(rows);
    std::map<std::string, std::pair<std::string, std::set<std::string>>> out;
    for (const auto& c : *rows) out[c.id] = {c.parent, c.copies};
    return out;
  }

  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  SystemClock clock;
  Fleet fleet{*store, clock, FleetOptions{}};
  asio::io_context ioc;
  WriteBatch batch{*store, ioc};
  StoreAgents agents{ioc};
  Tasks tasks;
  std::unique_ptr<CheckpointService> service;
};

using Copies = std::set<std::string>;

}  // namespace

TEST_CASE("a checkpoint an agent reports is recorded with its copy, and kept across a restart") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  f.tasks.Runs("t1", m1);
  f.Taken(m1, Cp("cp-1", m1, "t1", 100), 2);

  const CheckpointRecord* c = f.service->Find("cp-1");
  REQUIRE(c != nullptr);
  CHECK(c->machine_id == m1);
  CHECK(c->task_id == "t1");
  CHECK(c->attempt == 2);
  CHECK(c->root == "root-cp-1");
  CHECK(c->copies == Copies{m1});
  CHECK(f.service->List({.task_id = "t1"}).size() == 1);
  CHECK(f.service->List({.machine_id = m1}).size() == 1);

  CHECK(f.Stored().at("cp-1").second == Copies{m1});
  f.service = f.MakeService(0);
  REQUIRE(f.service->Find("cp-1") != nullptr);
  CHECK(f.service->Find("cp-1")->copies == Copies{m1});
  CHECK(f.service->List({.task_id = "t1"}).size() == 1);
}

TEST_CASE("checkpoint reports that contradict the catalogue are refused and change nothing") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  f.tasks.Runs("t1", m1);
  f.Taken(m1, Cp("cp-1", m1, "t1", 100));
  const auto before = f.Stored();

  SECTION("another root under a known id") {
    CheckpointReport other = Cp("cp-1", m1, "t1", 100);
    other.root = "root-forged";
    f.Taken(m1, other);
    f.Taken(m2, other);
    CHECK(f.service->Find("cp-1")->root == "root-cp-1");
  }
  SECTION("a checkpoint that names another machine") {
    f.Taken(m2, Cp("cp-2", m1, "", 200));
    CHECK(f.service->Find("cp-2") == nullptr);
  }
  SECTION("a checkpoint of a task that runs on another machine") {
    f.Taken(m2, Cp("cp-2", m2, "t1", 200));
    CHECK(f.service->Find("cp-2") == nullptr);
    CHECK(f.service->List({.task_id = "t1"}).size() == 1);
  }
  SECTION("a copy of a checkpoint that is no longer taken (deleted while it travelled)") {
    f.tasks.unfinished.clear();  // nothing needs cp-1: it may be deleted
    f.agents.HoldTransfers();
    std::optional<Result<BranchOutcome>> branched;
    f.service->Branch("cp-1", m2, [&](Result<BranchOutcome> r) { branched = std::move(r); });
    REQUIRE(f.RunUntil([&] { return f.agents.TransferWaiting(); }));
    REQUIRE(f.Delete("cp-1"));
    f.agents.ReleaseTransfers();
    REQUIRE(f.RunUntil([&] { return branched.has_value(); }));
    REQUIRE_FALSE(*branched);
    CHECK(branched->error().code == ErrorCode::kNotFound);
    CHECK(f.service->Find("cp-1") == nullptr);
    // The copy that landed went too: no store keeps what the catalogue forgot.
    CHECK_FALSE(f.agents.Holds(m2, "cp-1"));
    CHECK_FALSE(f.agents.Holds(m1, "cp-1"));
    CHECK(f.Stored().empty());
    return;
  }
  REQUIRE(f.service->Find("cp-1") != nullptr);
  CHECK(f.service->Find("cp-1")->copies == Copies{m1});
  CHECK(f.service->List({}).size() == 1);
  CHECK(f.Stored() == before);
}

TEST_CASE("a registering machine is pinned the checkpoints it holds that unfinished tasks need") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  const std::string m3 = f.Machine("gamma");
  // A task submitted from a checkpoint m1 holds.
  f.Taken(m1, Cp("cp-base", m1, "", 10));
  f.tasks.starting_points = {"cp-base"};
  // t1 took two checkpoints on m1, then moved to m3, took one there, and m3 was lost: it would
  // resume from its newest reachable one, cp-b.
  f.tasks.Runs("t1", m1);
  f.Taken(m1, Cp("cp-a", m1, "t1", 20));
  f.Taken(m1, Cp("cp-b", m1, "t1", 30, "cp-a"));
  f.tasks.Runs("t1", m3);
  f.Taken(m3, Cp("cp-c", m3, "t1", 40, "cp-b"));
  f.Lost(m3);
  // t2 finished: its checkpoint is nobody's starting point.
  f.tasks.Runs("t2", m1);
  f.Taken(m1, Cp("cp-d", m1, "t2", 50));
  f.tasks.unfinished.erase("t2");
  // t3 runs on m2, whose checkpoint is m2's business.
  f.tasks.Runs("t3", m2);
  f.Taken(m2, Cp("cp-e", m2, "t3", 60));

  f.service->MachineRegistered(m1, f.tasks);
  CHECK(f.agents.PinsOf(m1) == std::set<std::string>{"cp-base", "cp-b"});
  CHECK_FALSE(f.agents.PinsOf(m2).has_value());

  // Once t1 finishes too, m1 keeps only the starting point pinned.
  f.tasks.unfinished.erase("t1");
  f.service->MachineRegistered(m1, f.tasks);
  CHECK(f.agents.PinsOf(m1) == std::set<std::string>{"cp-base"});
}

TEST_CASE(
    "a machine whose store lost checkpoints loses them from the catalogue, but not copies "
    "recorded while its list travelled") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  f.tasks.Runs("t1", m1);
  f.tasks.Runs("t2", m2);
  f.Taken(m1, Cp("cp-1", m1, "t1", 10));
  f.Taken(m1, Cp("cp-2", m1, "t1", 20, "cp-1"));
  f.Taken(m1, Cp("cp-3", m1, "t1", 30, "cp-2"));
  REQUIRE(f.Branch("cp-2", m2));
  // m1's disk was replaced: only cp-1 survived.
  f.agents.Lose(m1, "cp-2");
  f.agents.Lose(m1, "cp-3");

  f.agents.HoldLists();
  f.service->MachineRegistered(m1, f.tasks);  // m1 lists {cp-1} now; the answer travels
  // Meanwhile m1 takes a checkpoint and receives a copy.
  f.Taken(m1, Cp("cp-4", m1, "t1", 40, "cp-1"));
  f.Taken(m2, Cp("cp-5", m2, "t2", 50));
  REQUIRE(f.Branch("cp-5", m1));
  f.agents.DeliverLists();
  f.Poll();

  CHECK(f.service->Find("cp-1")->copies == Copies{m1});
  CHECK(f.service->Find("cp-2")->copies == Copies{m2});
  CHECK(f.service->Find("cp-3") == nullptr);  // no copy left anywhere
  CHECK(f.service->Find("cp-4")->copies == Copies{m1});
  CHECK(f.service->Find("cp-5")->copies == Copies{m1, m2});
  const auto stored = f.Stored();
  CHECK_FALSE(stored.contains("cp-3"));
  CHECK(stored.at("cp-2").second == Copies{m2});
  CHECK(stored.at("cp-5").second == Copies{m1, m2});
}

TEST_CASE(
    "a checkpoint an unfinished task needs cannot be deleted, and a deleted one's children "
    "hang from its parent") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  f.tasks.Runs("t1", m1);
  f.tasks.starting_points = {"cp-1"};
  f.Taken(m1, Cp("cp-1", m1, "t1", 10));
  f.Taken(m1, Cp("cp-2", m1, "t1", 20, "cp-1"));
  f.Taken(m1, Cp("cp-3", m1, "t1", 30, "cp-2"));
  REQUIRE(f.Branch("cp-2", m2));

  // cp-1: a task starts from it; cp-3: t1 would resume from it.
  for (const std::string id : {"cp-1", "cp-3"}) {
    auto refused = f.Delete(id);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::kConflict);
    CHECK(f.service->Find(id) != nullptr);
    CHECK(f.agents.Holds(m1, id));
  }

  auto deleted = f.Delete("cp-2");
  REQUIRE(deleted);
  CHECK(*deleted == std::vector<std::string>{"cp-2"});
  CHECK(f.service->Find("cp-2") == nullptr);
  CHECK_FALSE(f.agents.Holds(m1, "cp-2"));
  CHECK_FALSE(f.agents.Holds(m2, "cp-2"));
  CHECK(f.service->Find("cp-3")->parent == "cp-1");
  CHECK(f.service->Children("cp-1") == std::vector<std::string>{"cp-3"});
  const auto stored = f.Stored();
  CHECK_FALSE(stored.contains("cp-2"));
  CHECK(stored.at("cp-3").first == "cp-1");

  // Finished, t1 needs nothing any more.
  f.tasks.unfinished.clear();
  f.tasks.starting_points.clear();
  REQUIRE(f.Delete("cp-3"));
  CHECK_FALSE(f.agents.Holds(m1, "cp-3"));
}

TEST_CASE("a task's new checkpoint is copied onto a machine that holds its parent") {
  Fixture f(/*replicas=*/1);
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");  // before m3: the first pick were parents ignored
  const std::string m3 = f.Machine("gamma");
  f.Taken(m1, Cp("cp-p", m1, "", 10));  // no task: not replicated
  REQUIRE(f.Branch("cp-p", m3));
  CHECK(f.service->Find("cp-p")->copies == Copies{m1, m3});

  f.tasks.Runs("t1", m1);
  f.Taken(m1, Cp("cp-1", m1, "t1", 20, "cp-p"));
  REQUIRE(f.RunUntil([&] { return f.service->Find("cp-1")->copies.size() == 2; }));
  CHECK(f.service->Find("cp-1")->copies == Copies{m1, m3});
  CHECK(f.agents.Holds(m3, "cp-1"));
  CHECK_FALSE(f.agents.Holds(m2, "cp-1"));
  CHECK(f.Stored().at("cp-1").second == Copies{m1, m3});
}

TEST_CASE("a requeued task starts from its newest checkpoint a reachable machine holds") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  f.tasks.Runs("t1", m1);
  f.Taken(m1, Cp("cp-1", m1, "t1", 10));
  f.tasks.Runs("t1", m2);
  f.Taken(m2, Cp("cp-2", m2, "t1", 20, "cp-1"));
  CheckpointReport before = Cp("cp-3", m2, "t1", 30, "cp-2");
  before.trigger = "before_restore";  // not a point to resume from
  f.Taken(m2, before);

  TaskRecord t;
  t.id = "t1";
  t.spec.from_checkpoint = "cp-submitted";
  t.attempts = 1;
  CHECK(f.service->StartingPoint(t) == "cp-submitted");
  t.attempts = 2;
  CHECK(f.service->StartingPoint(t) == "cp-2");
  f.Lost(m2);
  CHECK(f.service->StartingPoint(t) == "cp-1");
  f.Lost(m1);
  CHECK(f.service->StartingPoint(t) == "cp-submitted");
}

TEST_CASE("the newest checkpoint is the last one heard of, whatever the agents' clocks say") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  const std::string m2 = f.Machine("beta");
  f.tasks.Runs("t1", m1);
  // A clock far ahead, then one behind: the one that came last is where the task resumes.
  f.Taken(m1, Cp("cp-ahead", m1, "t1", 9'000'000));
  f.tasks.Runs("t1", m2);
  f.Taken(m2, Cp("cp-behind", m2, "t1", 10, "cp-ahead"));
  TaskRecord t;
  t.id = "t1";
  t.attempts = 2;
  CHECK(f.service->StartingPoint(t) == "cp-behind");
  auto listed = f.service->List({.task_id = "t1"});
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]->id == "cp-ahead");
  CHECK(listed[1]->id == "cp-behind");
  // A copy arriving later (a branch, a reply) does not make an old checkpoint new again.
  f.Taken(m1, Cp("cp-ahead", m1, "t1", 9'000'000));
  CHECK(f.service->StartingPoint(t) == "cp-behind");
  // The order survives a restart, and goes on from where it was.
  f.batch.Commit();
  f.service = f.MakeService(0);
  CHECK(f.service->StartingPoint(t) == "cp-behind");
  f.Taken(m2, Cp("cp-next", m2, "t1", 5, "cp-behind"));
  CHECK(f.service->StartingPoint(t) == "cp-next");
}

TEST_CASE("a checkpoint taken on request is recorded as the agent reports it") {
  Fixture f;
  const std::string m1 = f.Machine("alpha");
  f.tasks.Runs("t1", m1);
  auto made = f.Await<std::vector<CheckpointRecord>>(
      [&](auto done) { f.service->Create(m1, "t1", "before refactor", f.tasks, done); });
  REQUIRE(made);
  REQUIRE(made->size() == 1);
  const std::string id = made->front().id;
  CHECK(f.agents.Holds(m1, id));
  REQUIRE(f.service->Find(id) != nullptr);
  CHECK(f.service->Find(id)->label == "before refactor");
  CHECK(f.service->Find(id)->copies == Copies{m1});

  // A machine that cannot be reached is not asked.
  f.Lost(m1);
  auto refused = f.Await<std::vector<CheckpointRecord>>(
      [&](auto done) { f.service->Create(m1, "t1", "", f.tasks, done); });
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnavailable);
}
