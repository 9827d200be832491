#include "worker-agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <filesystem>
#include <set>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "common/bus/subjects.h"
#include "common/core/files.h"
#include "common/core/ids.h"
#include "common/core/open_files.h"
#include "common/core/time.h"
#include "common/wire/resources.h"
#include "worker-agent/agent_metrics.h"
#include "worker-agent/checkpoint_keeper.h"
#include "worker-agent/command_reply.h"
#include "worker-agent/host/resources.h"
#include "worker-agent/host/tools.h"
#include "worker-agent/meter/meter_service.h"
#include "worker-agent/repo_keeper.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/task_manager.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr auto kRegisterTimeout = std::chrono::seconds(2);
constexpr auto kMaxRegisterBackoff = std::chrono::seconds(5);
constexpr size_t kMaxCommand = 1 << 20;
// On shutdown: how long cancelled tools get to exit (then SIGKILL), and how long the events
// saying so get to reach JetStream. Together well inside a service manager's stop timeout.
constexpr auto kStopTasksWait = std::chrono::seconds(1);
constexpr auto kStopFlushWait = std::chrono::seconds(2);
// Where LLM calls go when the config names no upstream for a provider.
constexpr const char* kDefaultUpstreams[][2] = {{"anthropic", "https://api.anthropic.com"},
                                                {"openai", "https://api.openai.com"}};

// A provider key from its file (trimmed), else from the agent's environment. A key file others
// could read is refused: the key would not be the agent's alone.
Result<std::string> ProviderKey(const std::string& file, const std::string& from_env) {
  if (file.empty()) return from_env;
  struct stat st {};
  if (stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return MakeError(ErrorCode::kBadConfig, "key file " + file +
                                                " is readable by group or others (mode " + mode +
                                                "): chmod 600 " + file);
  }
  auto text = ReadFile(file);
  if (!text) return MakeError(ErrorCode::kBadConfig, "cannot read key file " + file);
  std::string key = *text;
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  return key;
}

class AgentImpl final : public Agent {
 public:
  explicit AgentImpl(AgentConfig config)
      : config_(std::move(config)),
        signals_(ioc_, SIGTERM, SIGINT),
        heartbeat_timer_(ioc_),
        retry_timer_(ioc_),
        stop_timer_(ioc_) {}

  ~AgentImpl() override {
    metrics_.reset();
    cmd_sub_.reset();
    checkpoints_.reset();  // waits for the disk thread's current work
    tasks_.reset();        // kills any tool still running
    meter_.reset();
    blocking_.join();
    outbox_.reset();
    bus_.reset();
  }

  Result<void> Init() {
    if (auto r = MakeDirs(config_.data_dir, 0700); !r) return r.error();
    // Workspaces, checkpoints and the machine's credentials: the agent's user's alone, whatever
    // the directory was made with.
    if (chmod(config_.data_dir.c_str(), 0700) != 0) {
      return IoError("cannot make private (0700)", config_.data_dir);
    }
    if (auto id = ReadFile(config_.data_dir + "/machine_id"); id && !id->empty()) {
      machine_id_ = *id;
    }
    if (!config_.machine_id.empty()) machine_id_ = config_.machine_id;
    tools_ = host::FindTools();
    BusOptions bo;
    bo.url = config_.nats_url;
    bo.name = "autovibe-agent " + config_.name;
    bo.user = config_.nats_user;
    bo.password = config_.nats_password;
    bo.tls = config_.nats_tls;
    // A machine a provisioner made (its config names its id) reads replies on inboxes of its
    // own, the only ones its bus credentials may let it read.
    if (!config_.machine_id.empty()) bo.inbox_prefix = "_INBOX_" + config_.machine_id;
    // After any (re)connection, register again: the controller may have restarted or have
    // marked us lost while we were cut off. Queued events go out at once, not after backoff.
    bo.on_connected = [this] {
      asio::post(ioc_, [this] {
        outbox_->Wake();
        Register();
      });
    };
    auto bus = ConnectNats(std::move(bo));
    if (!bus) return bus.error();
    bus_ = std::move(*bus);
    // Usage records and task events wait there until JetStream has them: a crash of the agent
    // loses none, and what a previous run left goes out first.
    auto outbox =
        EventOutbox::Open(*bus_, EventOutboxOptions{.subject_prefix = config_.subject_prefix,
                                                    .dir = config_.data_dir + "/outbox"});
    if (!outbox) return outbox.error();
    outbox_ = std::move(*outbox);
    if (auto r = StartMeter(); !r) return r.error();
    repos_ = std::make_unique<RepoKeeper>(
        ioc_, config_.data_dir, repo::RepoLimits{},
        repo::RetentionPolicy{.workspace_max_age = std::chrono::duration_cast<std::chrono::seconds>(
                                  config_.repos.workspace_max_age),
                              .mirror_max_age = std::chrono::duration_cast<std::chrono::seconds>(
                                  config_.repos.mirror_max_age),
                              .min_free_fraction = config_.repos.min_free_percent / 100.0});
    auto task_options = TaskOptions();
    if (config_.box.task_user == box::TaskUser::kPerTask) {
      task_options.boxes = std::make_shared<runner::TaskBoxes>(ioc_, BoxOptions());
    } else {
      spdlog::warn(
          "tasks run as the agent's own user, unboxed (task_user = \"root\"): trusted "
          "work only");
    }
    tasks_ = std::make_unique<TaskManager>(ioc_, *outbox_, std::move(task_options));
    auto keeper = CheckpointKeeper::Open(
        ioc_, *outbox_, *tasks_,
        CheckpointKeeperOptions{.data_dir = config_.data_dir, .settings = config_.checkpoints});
    if (!keeper) return keeper.error();
    checkpoints_ = std::move(*keeper);
    if (auto r = ServeMetrics(); !r) return r.error();
    spdlog::info("agent starting name={} data_dir={} tools={}", config_.name, config_.data_dir,
                 fmt::join(tools_, ","));
    return {};
  }

  int Run() override {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) {
        spdlog::info("agent stopping on signal {}", sig);
        Shutdown("signal " + std::to_string(sig));
      }
    });
    // Registration starts from the bus's on_connected callback. If the bus is not up yet,
    // start one anyway: it fails and retries with backoff, logging each attempt, until it is.
    asio::post(ioc_, [this] {
      if (!bus_->Connected()) Register();
    });
    ioc_.run();
    // The owner thread is done; blocking here is what is left to do.
    if (meter_) meter_->HandOverUsage();
    if (!outbox_->Flush(kStopFlushWait)) {
      spdlog::warn("agent stopped with {} events not delivered", outbox_->Pending());
    }
    return 0;
  }

  void Stop() override {
    asio::post(ioc_, [this] { Shutdown("stopped"); });
  }

 private:
  // The metering proxy and the budget leases, on a thread of their own.
  Result<void> StartMeter() {
    const meter::MeterConfig& mc = config_.meter;
    if (!mc.prices_file.empty()) {
      auto text = ReadFile(mc.prices_file);
      if (!text)
        return MakeError(ErrorCode::kBadConfig, "cannot read price table " + mc.prices_file);
      auto parsed = meter::PriceTable::Parse(*text);
      if (!parsed)
        return MakeError(ErrorCode::kBadConfig, mc.prices_file + ": " + parsed.error().message);
      prices_ = std::move(*parsed);
    } else {
      prices_ = meter::PriceTable::BuiltIn();
    }
    meter::MeterServiceOptions mo;
    mo.subject_prefix = config_.subject_prefix;
    auto listen = meter::SplitListen(mc.listen);
    mo.proxy.host = listen->first;
    mo.proxy.port = listen->second;
    const AgentEnvironment env = AgentEnvironment::FromProcess();
    for (const auto& [provider, fallback] : kDefaultUpstreams) {
      auto it = config_.upstreams.find(provider);
      meter::UpstreamSettings u;
      u.url = meter::UpstreamBase(it != config_.upstreams.end() ? it->second : fallback);
      u.ca_file = mc.ca_file;
      const bool anthropic = std::string_view(provider) == "anthropic";
      auto key = ProviderKey(anthropic ? mc.anthropic_key_file : mc.openai_key_file,
                             anthropic ? env.anthropic_api_key : env.openai_api_key);
      if (!key) return key.error();
      u.api_key = std::move(*key);
      mo.proxy.upstreams[provider] = std::move(u);
    }
    mo.proxy.mock = {mc.mock_text, mc.mock_input_tokens, mc.mock_output_tokens,
                     mc.mock_cache_write_tokens, mc.mock_cache_read_tokens};
    mo.on_responses = [this](std::vector<std::string> tasks) {
      asio::post(ioc_, [this, tasks = std::move(tasks)] {
        if (checkpoints_) checkpoints_->LlmResponded(tasks);
      });
    };
    mo.proxy.requests_per_minute = mc.requests_per_minute;
    mo.proxy.tokens_per_minute = mc.tokens_per_minute;
    mo.proxy.pricing.allow_unpriced = mc.allow_unpriced_models;
    mo.proxy.drain_timeout = std::chrono::duration_cast<std::chrono::seconds>(mc.drain_timeout);
    mo.proxy.min_output_tokens = mc.min_output_tokens;
    mo.proxy.count_tokens_above = mc.count_tokens_above;
    mo.proxy.count_tokens_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(mc.count_tokens_timeout);
    // The proxy's connections fit in the open-files limit (raised to the hard limit), with
    // room left for checkpoints, tools and the bus, and every task's user has its own share.
    const uint64_t files = RaiseOpenFileLimit();
    const bool shared_user = config_.box.task_user == box::TaskUser::kRoot;
    mo.proxy.limits = meter::ProxyConnectionLimits(config_.task_slots, shared_user, files);
    if (!shared_user && mo.proxy.limits.max_per_client < meter::kConnectionsPerUser) {
      spdlog::warn("the open-files limit ({}) allows {} proxy connections: {} per task user", files,
                   mo.proxy.limits.max_connections, mo.proxy.limits.max_per_client);
    }
    auto m = meter::MeterService::Start(*bus_, *outbox_, prices_, std::move(mo),
                                        [this](const meter::TaskOutOfBudget& e) {
                                          asio::post(ioc_, [this, e] { OnBudgetExhausted(e); });
                                        });
    if (!m) return m.error();
    meter_ = std::move(*m);
    spdlog::info("agent metering proxy listening url={} anthropic={} openai={}", meter_->url(),
                 config_.upstreams.count("anthropic") ? config_.upstreams.at("anthropic")
                                                      : kDefaultUpstreams[0][1],
                 config_.upstreams.count("openai") ? config_.upstreams.at("openai")
                                                   : kDefaultUpstreams[1][1]);
    return {};
  }

  // The agent's own /metrics, when asked for (agent_metrics.h).
  Result<void> ServeMetrics() {
    if (config_.metrics_listen.empty()) return {};
    auto m = StartAgentMetrics(ioc_, config_.metrics_listen, config_.metrics_allow_remote,
                               {.name = &config_.name,
                                .machine_id = &machine_id_,
                                .outbox = outbox_.get(),
                                .checkpoints = checkpoints_.get(),
                                .tasks = tasks_.get(),
                                .meter = meter_.get()});
    if (!m) return m.error();
    metrics_ = std::move(*m);
    spdlog::info("agent metrics listening url={}", metrics_->url());
    return {};
  }

  // A budget refused one of the task's calls: the tool gets a moment to show the error the
  // proxy answered, then stops (paused, workspace kept; or cancelled, as the budget says).
  // The controller stops the project's other tasks.
  void OnBudgetExhausted(const meter::TaskOutOfBudget& e) {
    spdlog::warn("task {} {}: {}", e.task_id, e.pause ? "pausing" : "stopping", e.message);
    if (stopping_) return;
    tasks_->StopAfterRefusal(e.task_id, e.message, e.pause, config_.meter.stop_delay);
  }

  // What a command asks for, within reason (a stop is never put off past 10 s).
  // A stop asked for later (the controller's budget stops) gives the tool at least the
  // agent's own stop_delay to show the refusal, as a stop from the meter does; a stop asked
  // for now (a user's cancel, an emergency stop) stays immediate.
  Duration StopDelay(uint32_t ms) const {
    if (ms == 0) return Duration(0);
    return std::max(Duration(std::min<uint32_t>(ms, 10'000)), config_.meter.stop_delay);
  }

  TaskManagerOptions TaskOptions() const {
    TaskManagerOptions o;
    o.data_dir = config_.data_dir;
    o.slots = config_.task_slots;
    o.default_grace = config_.task_grace;
    o.limits = config_.task_limits;
    o.max_output_bytes = config_.max_output_bytes;
    o.agent_env = AgentEnvironment::FromProcess();
    o.meter = meter_.get();
    o.on_ended = [this](const std::string& task_id, uint32_t attempt) {
      repo::MarkEnded(config_.data_dir, task_id);
      if (checkpoints_) checkpoints_->TaskEnded(task_id, attempt);
    };
    o.harvest = [this](const std::string& task_id, const v1::RepoSpec& repo,
                       TaskManagerOptions::HarvestDone done) {
      repos_->Harvest(task_id, repo, std::move(done));
    };
    return o;
  }

  runner::TaskBoxesOptions BoxOptions() const {
    runner::TaskBoxesOptions o;
    o.settings = config_.box;
    o.data_dir = config_.data_dir;
    o.slots = config_.task_slots;
    for (const std::string& f :
         {config_.config_file, config_.meter.anthropic_key_file, config_.meter.openai_key_file}) {
      std::error_code ec;
      if (!f.empty()) o.hidden_files.push_back(std::filesystem::absolute(f, ec).string());
    }
    spdlog::info("tasks are boxed: a user each from uid {}, network {}", o.settings.uid_base,
                 box::TaskNetworkName(o.settings.network));
    return o;
  }

  Subjects subjects() const { return Subjects(config_.subject_prefix); }

  // Starts a registration unless one is in flight; one requested meanwhile runs after it.
  void Register() {
    if (stopping_) return;
    if (registering_) {
      register_again_ = true;
      return;
    }
    registering_ = true;
    register_again_ = false;
    // An agent that knows its id listens for commands before it registers: the controller
    // takes it as ready the moment it answers, and may ask at once.
    if (!machine_id_.empty() && !cmd_sub_ && bus_->Connected()) {
      UseMachineId();  // what those commands report goes out under that id too
      SubscribeCommands();
    }
    v1::RegisterRequest req;
    req.set_name(config_.name);
    req.set_agent_version(AUTOVIBE_VERSION);
    req.set_backend(config_.backend);
    req.set_machine_id(machine_id_);
    req.set_instance_id(instance_id_);
    req.set_task_slots(config_.task_slots);
    for (const auto& id : tasks_->RunningTaskIds()) req.add_running_task_ids(id);
    for (const auto& [k, v] : config_.labels) (*req.mutable_labels())[k] = v;
    for (const auto& t : tools_) req.add_tools(t);
    if (auto s = host::SampleResources(config_.data_dir); s) {
      ToProto(*s, *req.mutable_resources());
    }
    // A provisioned machine registers on a subject of its own (its bus credentials allow no
    // other); any other agent on the shared subject.
    const std::string subject = config_.machine_id.empty()
                                    ? subjects().Register()
                                    : subjects().RegisterAs(config_.machine_id);
    asio::post(blocking_, [this, subject, data = req.SerializeAsString()] {
      auto reply = bus_->Request(subject, data, kRegisterTimeout);
      asio::post(ioc_, [this, reply = std::move(reply)] { OnRegisterReply(reply); });
    });
  }

  void OnRegisterReply(const Result<std::string>& raw) {
    registering_ = false;
    if (stopping_) return;
    v1::RegisterReply reply;
    std::string problem;
    if (!raw) {
      problem = raw.error().message;
    } else if (!reply.ParseFromString(*raw)) {
      problem = "controller sent an undecodable reply";
    } else if (!reply.error().empty()) {
      problem = "controller refused registration: " + reply.error();
    } else if (reply.machine_id().empty()) {
      problem = "controller sent no machine id";
    }
    if (!problem.empty()) {
      RetryRegister(problem);
      return;
    }
    register_backoff_ = std::chrono::milliseconds(250);
    retry_timer_.cancel();  // a retry queued while the bus came up would register twice
    const bool changed = reply.machine_id() != machine_id_ || !cmd_sub_;
    machine_id_ = reply.machine_id();
    UseMachineId();
    interval_ = std::chrono::milliseconds(std::max<uint32_t>(reply.heartbeat_interval_ms(), 10));
    // Remembered once the controller has it: a machine that knew its id before (from its
    // config or its join) writes it at its first answer too.
    if (changed || !id_remembered_) {
      if (auto r = WriteFileAtomic(config_.data_dir + "/machine_id", machine_id_, 0600); !r) {
        spdlog::warn("agent cannot remember machine id: {}", r.error().message);
      } else {
        id_remembered_ = true;
      }
    }
    if (changed) SubscribeCommands();
    spdlog::info("agent registered machine_id={} heartbeat_interval={}ms", machine_id_,
                 interval_.count());
    ScheduleHeartbeat(std::chrono::milliseconds(0));
    if (!announced_) {
      announced_ = true;
      v1::AgentEvent e;
      e.mutable_agent_started()->set_agent_version(AUTOVIBE_VERSION);
      outbox_->Add(std::move(e));
    }
    if (register_again_) Register();
  }

  void RetryRegister(const std::string& problem) {
    spdlog::warn("agent registration failed, retrying in {}ms: {}", register_backoff_.count(),
                 problem);
    retry_timer_.expires_after(register_backoff_);
    register_backoff_ = std::min<Duration>(register_backoff_ * 2, kMaxRegisterBackoff);
    retry_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) Register();
    });
  }

  // Events, usage records and checkpoints go out under machine_id_.
  void UseMachineId() {
    outbox_->SetMachineId(machine_id_);
    meter_->SetMachineId(machine_id_);
    checkpoints_->SetMachineId(machine_id_);
  }

  void SubscribeCommands() {
    cmd_sub_.reset();
    auto sub = bus_->Subscribe(
        subjects().Command(machine_id_), "command", kMaxCommand,
        [this](BusMessage m) { asio::post(ioc_, [this, m = std::move(m)] { OnCommand(m); }); });
    if (!sub) {
      spdlog::error("agent cannot subscribe to commands: {}", sub.error().message);
      return;
    }
    cmd_sub_ = std::move(*sub);
  }

  void OnCommand(const BusMessage& m) {
    auto cmd = DecodeOrReject<v1::Command>(*bus_, m, "command");
    auto send = [this, to = m.reply](const v1::CommandReply& reply) {
      if (to.empty()) return;
      if (auto r = bus_->Publish(to, reply.SerializeAsString()); !r) {
        // Too large for the bus, most likely: the controller hears why instead of a timeout.
        v1::CommandReply short_reply;
        short_reply.set_command_id(reply.command_id());
        short_reply.set_error("the answer could not be sent: " + r.error().message);
        short_reply.set_error_code("too_large");
        bus_->Publish(to, short_reply.SerializeAsString());
      }
    };
    if (!cmd) {
      v1::CommandReply reply;
      reply.set_error("undecodable command");
      send(reply);
      return;
    }
    if (cmd->has_run_task()) {
      // Where a task's start is timed from (tests/bench/repo_bench.cc).
      spdlog::info("task {} attempt {} received", cmd->run_task().task_id(),
                   cmd->run_task().attempt());
    }
    if (CheckpointKeeper::Handles(*cmd)) {
      if (stopping_)
        return send(Reply(*cmd, MakeError(ErrorCode::kUnavailable, "the agent is stopping")));
      checkpoints_->Execute(*cmd, send);
      return;
    }
    if (cmd->has_run_task() && !announced_) {
      // Listening early (see Register) is for the controller's questions; work waits until
      // the controller knows this process, so it cannot take the task for a lost one's.
      return send(
          Reply(*cmd, MakeError(ErrorCode::kUnavailable, "the agent has not registered yet")));
    }
    if (cmd->has_run_task() && NeedsSeed(cmd->run_task())) {
      // The workspace is written from the checkpoint first; then the tool starts. An older
      // attempt still running here is stopped before its workspace is replaced.
      const v1::RunTask& run = cmd->run_task();
      if (!tasks_->Running(run.task_id()) && tasks_->running() >= config_.task_slots) {
        // Said before minutes of writing a workspace, not after.
        send(Reply(*cmd, MakeError(ErrorCode::kBusy, "all " + std::to_string(config_.task_slots) +
                                                         " task slots are in use")));
        return;
      }
      auto seed = [this, cmd = *cmd, send] {
        checkpoints_->Seed(cmd.run_task(), [this, cmd, send](Result<void> seeded) {
          if (!seeded) return send(Reply(cmd, seeded));
          StartTask(cmd, send);
        });
      };
      if (tasks_->Running(run.task_id())) {
        tasks_->Cancel(run.task_id(), "superseded by attempt " + std::to_string(run.attempt()));
        tasks_->WhenEnded(run.task_id(), std::move(seed));
      } else {
        seed();
      }
      return;
    }
    if (cmd->has_run_task() && checkpoints_->Busy(cmd->run_task().task_id())) {
      send(Reply(*cmd, MakeError(ErrorCode::kBusy, "the task's workspace is being restored")));
      return;
    }
    if (cmd->has_run_task()) return StartTask(*cmd, send);
    if (cmd->has_fetch_result()) return send(repos_->Fetch(*cmd));
    if (cmd->has_push_result()) return repos_->Push(*cmd, send);
    if (cmd->has_put_result()) return send(repos_->Put(*cmd));
    send(Reply(*cmd, Execute(*cmd)));
  }

  // Answers once the tool started or could not: a boxed task's workspace is handed to its user
  // first, off this thread.
  // A repository task's workspace is fetched and checked out first (off this thread), unless
  // this attempt already runs here.
  void StartTask(const v1::Command& cmd, const CheckpointKeeper::Reply& send) {
    const v1::RunTask& run = cmd.run_task();
    auto start = [this, cmd, send] {
      tasks_->Run(cmd.run_task(), [cmd, send](Result<void> r) { send(Reply(cmd, r)); });
    };
    if (!run.has_repo() || !ValidTaskId(run.task_id()) ||
        (tasks_->Running(run.task_id()) && tasks_->AttemptOf(run.task_id()) >= run.attempt())) {
      return start();
    }
    if (!tasks_->Running(run.task_id()) && tasks_->running() >= config_.task_slots) {
      return send(Reply(
          cmd, MakeError(ErrorCode::kBusy,
                         "all " + std::to_string(config_.task_slots) + " task slots are in use")));
    }
    // What a checkpoint, a paused attempt or an earlier attempt left is the task's work: kept.
    std::error_code ec;
    const std::string workspace = WorkspacePath(config_.data_dir, run.task_id());
    const bool seeded =
        !run.from_checkpoint().empty() || run.resume() ||
        (std::filesystem::exists(workspace, ec) && !std::filesystem::is_empty(workspace, ec));
    repos_->Seed(run, seeded, [this, cmd, send, start](Result<void> r) {
      if (!r) {
        spdlog::warn("task {} attempt {}: repository not ready: {}", cmd.run_task().task_id(),
                     cmd.run_task().attempt(), r.error().message);
        return send(Reply(cmd, r));
      }
      if (stopping_) {
        return send(Reply(cmd, MakeError(ErrorCode::kUnavailable, "the agent is stopping")));
      }
      start();
    });
  }

  // A checkpoint a task should start from that is not here: try elsewhere or later.
  static v1::CommandReply Reply(const v1::Command& cmd, const Result<void>& r) {
    if (!r && r.error().code == ErrorCode::kNotFound) {
      return AnswerTo(cmd, MakeError(ErrorCode::kUnavailable, r.error().message));
    }
    return AnswerTo(cmd, r);
  }

  // A task to start from a checkpoint, unless this attempt already runs here.
  bool NeedsSeed(const v1::RunTask& t) const {
    if (t.from_checkpoint().empty() || stopping_ || tasks_->draining()) return false;
    return !(tasks_->Running(t.task_id()) && tasks_->AttemptOf(t.task_id()) >= t.attempt());
  }

  // Runs one command other than RunTask (StartTask).
  Result<void> Execute(const v1::Command& cmd) {
    switch (cmd.kind_case()) {
      case v1::Command::kReregister:
        spdlog::info("agent asked to register again");
        Register();
        return {};
      case v1::Command::kShutdown:
        spdlog::info("agent shutting down on command");
        asio::post(ioc_, [this] { Shutdown("shutdown command"); });
        return {};
      case v1::Command::kDrain:
        spdlog::info("agent draining: no new tasks, running ones go on");
        tasks_->SetDraining(true);
        return {};
      case v1::Command::kCancelTask:
        tasks_->Cancel(cmd.cancel_task().task_id(), cmd.cancel_task().reason(),
                       StopDelay(cmd.cancel_task().delay_ms()));
        return {};
      case v1::Command::kFetchResult:
      case v1::Command::kPushResult:
      case v1::Command::kPutResult:
        return {};  // answered in OnCommand
      case v1::Command::kPauseTask:
        tasks_->Pause(cmd.pause_task().task_id(), cmd.pause_task().reason(),
                      StopDelay(cmd.pause_task().delay_ms()));
        return {};
      default:
        return MakeError(ErrorCode::kUnsupported, "command not supported by this agent");
    }
  }

  void ScheduleHeartbeat(Duration after) {
    heartbeat_timer_.expires_after(after);
    heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      SendHeartbeat();
      ScheduleHeartbeat(interval_);
    });
  }

  void SendHeartbeat() {
    v1::Heartbeat hb;
    hb.set_machine_id(machine_id_);
    hb.set_sequence(++sequence_);
    if (auto s = host::SampleResources(config_.data_dir); s) {
      s->workspaces_bytes = repos_->disk_use().workspaces_bytes;
      s->repos_bytes = repos_->disk_use().repos_bytes;
      ToProto(*s, *hb.mutable_resources());
    } else {
      spdlog::warn("agent cannot sample resources: {}", s.error().message);
    }
    hb.set_sent_at_unix_ns(UnixNowNs());
    for (const auto& id : tasks_->RunningTaskIds()) hb.add_running_task_ids(id);
    // Every five minutes (and at start): retention of workspaces and mirrors, and their disk
    // use. It walks every file of the data dir, so not with every heartbeat.
    const uint64_t every =
        std::max<int64_t>(1, std::chrono::minutes(5) / std::max(interval_, Duration(1)));
    if (sequence_ % every == 1 || every == 1) {
      const auto ids = tasks_->RunningTaskIds();
      repos_->Sweep(std::set<std::string>(ids.begin(), ids.end()));
    }
    // While disconnected NATS.c buffers; a failure here is logged and the next beat retries.
    if (auto r = bus_->Publish(subjects().Heartbeat(machine_id_), hb.SerializeAsString()); !r) {
      spdlog::debug("agent heartbeat not sent: {}", r.error().message);
    }
  }

  // Tells the controller first (it requeues what ran here), then cancels the tools and gives
  // them a moment before killing them; Run() flushes the events on the way out.
  void Shutdown(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    heartbeat_timer_.cancel();
    retry_timer_.cancel();
    signals_.cancel();
    if (metrics_) metrics_->Stop();
    cmd_sub_.reset();
    if (!machine_id_.empty()) {
      v1::AgentEvent e;
      e.mutable_agent_stopping()->set_reason(why);
      outbox_->Add(std::move(e));
    }
    tasks_->Stop("the agent is stopping (" + why + ")", [this] { ioc_.stop(); });
    stop_timer_.expires_after(kStopTasksWait);
    stop_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      tasks_->KillAll();
      ioc_.stop();
    });
  }

  AgentConfig config_;
  asio::io_context ioc_{1};
  asio::thread_pool blocking_{1};
  asio::signal_set signals_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer stop_timer_;
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<EventOutbox> outbox_;  // after bus_: gone before it
  meter::PriceTable prices_;
  std::unique_ptr<meter::MeterService> meter_;  // after outbox_: gone before it
  std::unique_ptr<RepoKeeper> repos_;
  std::unique_ptr<TaskManager> tasks_;             // after meter_: gone before it
  std::unique_ptr<CheckpointKeeper> checkpoints_;  // after tasks_: gone before it
  std::unique_ptr<Subscription> cmd_sub_;
  std::unique_ptr<AgentMetricsServer> metrics_;  // null unless metrics_listen is set
  std::vector<std::string> tools_;
  std::string machine_id_;
  const std::string instance_id_ = NewId("i");  // tells the controller this process restarted
  Duration interval_ = std::chrono::seconds(2);
  Duration register_backoff_ = std::chrono::milliseconds(250);
  uint64_t sequence_ = 0;
  bool registering_ = false;
  bool register_again_ = false;
  bool announced_ = false;      // AgentStarted sent
  bool id_remembered_ = false;  // machine_id_ written to the data dir since this start
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<Agent>> CreateAgent(const AgentConfig& config) {
  auto a = std::make_unique<AgentImpl>(config);
  if (auto r = a->Init(); !r) return r.error();
  return std::unique_ptr<Agent>(std::move(a));
}

}  // namespace autovibe
