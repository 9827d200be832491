// The controller's side for the fuzz targets that reach it (bus_controller, api_http): its
// parts made and connected as controller/controller.cc does, on a real SQLite store in a
// scratch directory, with the bus a recording double of our own seam (tests/unit/
// recording_bus.h: what the parts publish is kept and dropped after each input, requests go
// unanswered). Repository results and provisioning backends are left out: no pools.
//
// The store starts with what the inputs can speak about by name: machines m-1 (ready, tools
// shell and claude-code) and m-2, project "demo" with a budget, task t-1 running on m-1
// (attempt 1) and t-2 queued, so that agents' messages reach past the sender checks.
//
// One fixture per process, kept across inputs (as a controller keeps its state); owner-thread
// only: each input runs on the calling thread, then the io_context runs dry and the write
// batch commits.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>

#include "controller/agents/archive_agents.h"
#include "controller/agents/checkpoint_agents.h"
#include "controller/agents/event_intake.h"
#include "controller/agents/join_service.h"
#include "controller/agents/lease_service.h"
#include "controller/agents/machine_commands.h"
#include "controller/agents/registration.h"
#include "controller/agents/sender_rules.h"
#include "controller/agents/task_commands.h"
#include "controller/api/api.h"
#include "controller/api/checkpoint_archives.h"
#include "controller/api/task_followers.h"
#include "controller/budget_bridge.h"
#include "controller/budgets/alerts.h"
#include "controller/budgets/budget_book.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"
#include "controller/machine_reactions.h"
#include "controller/machines/join_tokens.h"
#include "controller/machines/machine_manager.h"
#include "controller/machines/nats_auth.h"
#include "controller/secrets/secret_store.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"
#include "controller/tasks/task_book.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/unit/recording_bus.h"

namespace autovibe::fuzz {

inline constexpr char kAdminToken[] = "fuzz-admin-token-0123456789abcdef";

class ControllerFixture {
 public:
  // The process's one fixture, made at first use. Aborts when it cannot be made.
  static ControllerFixture& Get() {
    static ControllerFixture* f = new ControllerFixture();  // never destroyed: see Settle
    return *f;
  }

  // Runs what the input's handling posted, commits, and forgets what was published.
  void Settle() {
    for (int i = 0; i < 64 && ioc.poll() > 0; ++i) {
    }
    ioc.restart();
    (void)batch->Commit();
    if (Showing()) {
      for (const auto& s : bus.sent) Show("published on " + s.subject);
      for (const auto& [key, n] : bus.Stats().Rejected()) {
        Show("rejected so far: " + key.first + " " + key.second + " " + std::to_string(n));
      }
    }
    bus.sent.clear();
  }

  boost::asio::io_context ioc{1};
  boost::asio::thread_pool blocking{1};
  testing::RecordingBus bus;
  SystemClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Fleet> fleet;
  std::unique_ptr<WriteBatch> batch;
  std::unique_ptr<TaskFollowers> followers;
  std::unique_ptr<NatsCheckpointAgents> checkpoint_agents;
  std::unique_ptr<CheckpointService> checkpoints;
  std::unique_ptr<NatsTaskCommands> task_commands;
  std::unique_ptr<TaskReactions> task_reactions;
  std::unique_ptr<TaskBook> tasks;
  std::unique_ptr<TaskBookFacts> task_facts;
  std::unique_ptr<BudgetBridge> bridge;
  std::unique_ptr<LogAlertSink> alerts;
  std::unique_ptr<BudgetBook> budgets;
  std::unique_ptr<NatsAuth> nats_auth;
  std::unique_ptr<JoinTokens> join_tokens;
  std::unique_ptr<MachineReactions> machine_reactions;
  std::unique_ptr<NatsMachineAgents> machine_agents;
  std::unique_ptr<MachineManager> machines;
  std::unique_ptr<Registration> registration;
  Refusals refusals;
  std::unique_ptr<SenderRules> sender_rules;
  std::unique_ptr<EventIntake> intake;
  std::unique_ptr<LeaseService> leases;
  std::unique_ptr<JoinService> joins;
  // The HTTP API over the same parts.
  std::unique_ptr<TasksApi> tasks_api;
  std::unique_ptr<BudgetsApi> budgets_api;
  std::unique_ptr<NatsArchiveAgents> archive_agents;
  std::unique_ptr<CheckpointArchives> archives;
  std::unique_ptr<CheckpointsApi> checkpoints_api;
  std::unique_ptr<MachinesApi> machines_api;
  std::unique_ptr<JoinTokensApi> join_tokens_api;
  std::unique_ptr<SecretStore> secrets;
  std::unique_ptr<SecretsApi> secrets_api;
  std::unique_ptr<Api> api;

 private:
  ControllerFixture() {
    const std::string dir = ScratchDir() + "/controller";
    std::filesystem::create_directories(dir);
    store = Must(OpenSqliteStore(dir + "/controller.db"));
    Seed();
    fleet = std::make_unique<Fleet>(*store, clock, FleetOptions{});
    Must(fleet->Load());
    batch = std::make_unique<WriteBatch>(*store, ioc, std::chrono::microseconds(0));
    followers = std::make_unique<TaskFollowers>(fleet.get());
    MakeParts(dir);
    RouteAgentEvents();
    MakeApi(dir);
    Settle();
  }

  // What the inputs can name (see the file comment), written as a controller left it.
  void Seed() {
    const int64_t now = clock.NowMs();
    for (const char* id : {"m-1", "m-2"}) {
      MachineRecord m;
      m.id = id;
      m.name = std::string("fuzz-") + id;
      m.backend = "local";
      m.state = MachineState::kReady;
      m.tools = {"shell", "claude-code"};
      m.resources.cpu_cores = 4;
      m.created_at_ms = m.registered_at_ms = m.last_heartbeat_at_ms = now;
      Must(store->SaveMachine(m));
    }
    Must(store->tasks().InsertProject({"demo", now}));
    TaskRecord running{.id = "t-1", .project = "demo", .seq = 1};
    running.spec.tool = "shell";
    running.spec.command = {"true"};
    running.state = TaskState::kRunning;
    running.machine_id = "m-1";
    running.attempts = 1;
    running.created_at_ms = running.assigned_at_ms = running.started_at_ms = now;
    Must(store->tasks().SaveTask(running));
    TaskRecord queued = running;
    queued.id = "t-2";
    queued.seq = 2;
    queued.state = TaskState::kQueued;
    queued.machine_id.clear();
    queued.attempts = 0;
    Must(store->tasks().SaveTask(queued));
  }

  void MakeParts(const std::string& dir) {
    const std::string prefix = "av";
    checkpoint_agents =
        std::make_unique<NatsCheckpointAgents>(CheckpointAgentsDeps{&ioc, &bus, prefix});
    checkpoints = std::make_unique<CheckpointService>(CheckpointServiceDeps{
        &ioc, checkpoint_agents.get(), batch.get(), fleet.get(), store.get(), 0});
    Must(checkpoints->Load());
    task_commands = std::make_unique<NatsTaskCommands>(
        TaskCommandsDeps{&ioc, &bus, batch.get(), checkpoints.get(), prefix, nullptr});
    task_reactions = std::make_unique<TaskReactions>(*followers, *fleet);
    tasks = std::make_unique<TaskBook>(TaskBookDeps{store.get(), &clock, task_commands.get(),
                                                    task_reactions.get(), &ioc, batch.get()},
                                       TaskBookOptions{});
    task_facts = std::make_unique<TaskBookFacts>(*tasks);
    bridge = std::make_unique<BudgetBridge>(*tasks);
    alerts = std::make_unique<LogAlertSink>();
    budgets = std::make_unique<BudgetBook>(store->budgets(), clock, *bridge, *bridge, *alerts,
                                           BudgetBookOptions{});
    Must(budgets->Load());
    nats_auth = std::make_unique<NatsAuth>(
        *store, clock, NatsAuthOptions{dir + "/nats-auth.conf", "", "controller", "pw", prefix});
    JoinTokensOptions jo;
    jo.registered = [this](const std::string& id) { return fleet->Find(id) != nullptr; };
    join_tokens = std::make_unique<JoinTokens>(*store, clock, *nats_auth, std::move(jo));
    Must(join_tokens->Load());
    machine_reactions = std::make_unique<MachineReactions>(
        MachineReactionsDeps{fleet.get(), batch.get(), tasks.get(), budgets.get(),
                             checkpoints.get(), task_facts.get(), nats_auth.get()});
    for (const MachineRecord* m : fleet->List()) machine_reactions->MachineChanged(*m);
    Must(tasks->Load());
    machine_agents = std::make_unique<NatsMachineAgents>(ioc, bus, prefix);
    MachineManagerDeps md;
    md.ioc = &ioc;
    md.fleet = fleet.get();
    md.store = store.get();
    md.agents = machine_agents.get();
    md.clock = &clock;
    md.open_batch = [this] { batch->Open(); };
    md.listener = machine_reactions.get();
    machines =
        std::make_unique<MachineManager>(std::move(md), std::vector<PoolConfig>{},
                                         std::map<std::string, std::unique_ptr<Provisioner>>{});
    machines->Load();
    registration = std::make_unique<Registration>(
        RegistrationDeps{&ioc, &bus, batch.get(), fleet.get(), &clock, machines.get(),
                         machine_reactions.get(), true});
    sender_rules = std::make_unique<SenderRules>(
        SenderRulesDeps{.tasks = bridge.get(), .leases = budgets.get(), .clock = &clock});
    intake = std::make_unique<EventIntake>(EventIntakeDeps{
        &ioc, &bus, batch.get(), store.get(), &blocking, prefix, sender_rules.get(), &refusals});
    leases = std::make_unique<LeaseService>(LeaseServiceDeps{
        &ioc, &bus, batch.get(), budgets.get(), prefix, sender_rules.get(), &refusals, true});
    joins = std::make_unique<JoinService>(
        JoinServiceDeps{&ioc, &bus, batch.get(), join_tokens.get(), prefix});
    Budget usd;
    usd.resource = BudgetResource::kUsd;
    usd.limit = 100'000'000;
    Must(budgets->SetBudgets("demo", {usd}));
  }

  void RouteAgentEvents() {
    intake->Route(AgentEventKind::kTaskStarted, [this](const AgentEvent& e) {
      return tasks->ApplyStarted(e.machine_id, std::get<TaskStartedEvent>(e.what));
    });
    intake->Route(AgentEventKind::kTaskLog, [this](const AgentEvent& e) {
      return tasks->ApplyLog(e.machine_id, e.at_ms, std::get<TaskLogEvent>(e.what));
    });
    intake->Route(AgentEventKind::kTaskFinished, [this](const AgentEvent& e) {
      return tasks->ApplyFinished(e.machine_id, std::get<TaskFinishedEvent>(e.what));
    });
    intake->Route(AgentEventKind::kUsage, [this](const AgentEvent& e) {
      return budgets->ApplyUsage(e.machine_id, clock.NowMs(), std::get<UsageReport>(e.what),
                                 e.event_id);
    });
    intake->Route(AgentEventKind::kCheckpointCreated, [this](const AgentEvent& e) -> Result<void> {
      checkpoints->ApplyCreated(e.machine_id, std::get<CheckpointCreatedEvent>(e.what),
                                *task_facts);
      return {};
    });
    intake->Route(AgentEventKind::kCheckpointsRemoved, [this](const AgentEvent& e) -> Result<void> {
      checkpoints->ApplyRemoved(e.machine_id, std::get<CheckpointsRemovedEvent>(e.what));
      return {};
    });
    intake->Route(AgentEventKind::kAgentStopping,
                  [this](const AgentEvent& e) { return registration->AgentStopping(e); });
  }

  void MakeApi(const std::string& dir) {
    auto commit = [this] { return batch->Commit(); };
    tasks_api = std::make_unique<TasksApi>(
        TasksApiDeps{tasks.get(),
                     fleet.get(),
                     followers.get(),
                     commit,
                     [this](std::string_view id) { return checkpoints->Find(id) != nullptr; },
                     [this](std::string_view task) { return checkpoints->Restoring(task); },
                     [](const std::string&, const std::string&) { return std::string(); },
                     {},
                     [](const std::string&) { return false; }});
    budgets_api = std::make_unique<BudgetsApi>(BudgetsApiDeps{
        budgets.get(),
        [this](std::string_view name) { return tasks->FindProject(name) != nullptr; }, commit});
    archive_agents = std::make_unique<NatsArchiveAgents>(ArchiveAgentsDeps{&ioc, &bus, "av"});
    archives = std::make_unique<CheckpointArchives>(
        CheckpointArchivesDeps{checkpoints.get(), fleet.get(), archive_agents.get()});
    checkpoints_api = std::make_unique<CheckpointsApi>(CheckpointsApiDeps{
        checkpoints.get(), fleet.get(), machines.get(), task_facts.get(), archives.get()});
    machines_api =
        std::make_unique<MachinesApi>(MachinesApiDeps{fleet.get(), machines.get(), commit});
    join_tokens_api = std::make_unique<JoinTokensApi>(JoinTokensApiDeps{join_tokens.get(), commit});
    secrets = Must(SecretStore::Open(dir + "/secrets", clock));
    secrets_api = std::make_unique<SecretsApi>(SecretsApiDeps{secrets.get()});
    ApiDeps ad{fleet.get(),       &bus.Stats(),          &registration->heartbeat_lag(),
               kAdminToken,       tasks_api.get(),       tasks.get(),
               budgets_api.get(), checkpoints_api.get(), machines_api.get()};
    ad.refusals = &refusals;
    ad.join_tokens_api = join_tokens_api.get();
    ad.secrets_api = secrets_api.get();
    api = std::make_unique<Api>(std::move(ad));
  }

  template <class T>
  static T Must(Result<T> r) {
    if (!r) {
      std::fprintf(stderr, "controller fixture: %s\n", r.error().message.c_str());
      std::abort();
    }
    if constexpr (!std::is_void_v<T>) return std::move(*r);
  }
};

}  // namespace autovibe::fuzz
