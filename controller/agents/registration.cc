#include "controller/agents/registration.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "controller/agents/agent_event_codec.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr size_t kMaxControlMessage = 64 * 1024;
constexpr auto kFlushEvery = std::chrono::seconds(2);
// Rows per flush step: about 5 ms of SQLite work, so heartbeats queued meanwhile wait no more.
constexpr size_t kFlushRowsPerStep = 1000;

}  // namespace

Registration::Registration(RegistrationDeps deps)
    : d_(std::move(deps)),
      prefix_(d_.fleet->options().subject_prefix),
      liveness_timer_(*d_.ioc),
      flush_timer_(*d_.ioc) {}

Registration::~Registration() { Stop(); }

Result<void> Registration::Start() {
  const Subjects subjects(prefix_);
  auto on_register = [this](BusMessage m) {
    asio::post(*d_.ioc, [this, m = std::move(m)] { OnRegister(m); });
  };
  // Machines that know their id register on a subject of their own: with per-machine bus
  // credentials, the subject proves who is speaking.
  for (const std::string& subject : {subjects.Register(), subjects.AnyRegisterAs()}) {
    auto sub = d_.bus->Subscribe(subject, "register", kMaxControlMessage, on_register);
    if (!sub) return sub.error();
    subs_.push_back(std::move(*sub));
  }
  auto hb = d_.bus->Subscribe(
      subjects.AnyHeartbeat(), "heartbeat", kMaxControlMessage,
      [this](BusMessage m) { asio::post(*d_.ioc, [this, m = std::move(m)] { OnHeartbeat(m); }); });
  if (!hb) return hb.error();
  subs_.push_back(std::move(*hb));
  ScheduleLiveness();
  ScheduleFlush();
  return {};
}

void Registration::Stop() {
  if (stopped_) return;
  stopped_ = true;
  subs_.clear();
  liveness_timer_.cancel();
  flush_timer_.cancel();
  if (auto r = d_.fleet->Flush(); !r) spdlog::error("controller flush: {}", r.error().message);
}

void Registration::OnRegister(const BusMessage& m) {
  if (stopped_) return;
  auto req = DecodeOrReject<v1::RegisterRequest>(*d_.bus, m, "register");
  v1::RegisterReply reply;
  std::optional<MachineRegistration> accepted;
  bool restarted = false;
  if (!req) {
    reply.set_error("register request is not a valid RegisterRequest message");
  } else if (std::string why = ImpersonationIn(m.subject, req->machine_id(), req->name());
             !why.empty()) {
    d_.bus->Stats().Reject("register", "subject_mismatch", m.subject, m.data.size());
    reply.set_error(why);
  } else if (const MachineRecord* known = d_.fleet->FindByName(req->name());
             known != nullptr && d_.machines != nullptr && d_.machines->Terminating(known->id)) {
    reply.set_error("machine " + known->name + " is being terminated");
  } else {
    d_.batch->Open();
    MachineRegistration r = FromProto(*req);
    RegisterOutcome outcome = d_.fleet->Register(r);
    if (outcome.accepted) {
      reply.set_machine_id(outcome.machine_id);
      reply.set_heartbeat_interval_ms(
          static_cast<uint32_t>(d_.fleet->options().heartbeat_interval.count()));
      reply.mutable_settings()->set_subject_prefix(prefix_);
      r.machine_id = outcome.machine_id;
      accepted = std::move(r);
      restarted = outcome.agent_restarted;
    } else {
      reply.set_error(outcome.error);
    }
  }
  // Answers go to inboxes only: the controller may publish anywhere, and a machine must not
  // make it write into another machine's subjects, nor, with bus users on, its inboxes.
  const std::string asker = Subjects(prefix_).MachineIn("register", m.subject);
  const bool own_only = d_.own_inboxes_only && !asker.empty();
  if (!m.reply.empty() && !MayAnswer(m.reply, asker, own_only)) {
    d_.bus->Stats().Reject("register", "bad_reply_subject", m.subject, m.data.size());
  } else if (!m.reply.empty()) {
    // Answered once the registration is durable: a controller killed right after still
    // knows the machine when it comes back.
    d_.batch->AfterCommit([this, to = m.reply, data = reply.SerializeAsString()] {
      if (auto r = d_.bus->Publish(to, data); !r) {
        spdlog::warn("controller cannot answer register: {}", r.error().message);
      }
    });
  }
  if (!accepted) return;
  // After the answer is queued: what the reactions send after the commit (the agent's
  // checkpoint questions) reaches the agent after it knows it is registered.
  const MachineRecord& rec = *d_.fleet->Find(accepted->machine_id);
  if (d_.machines != nullptr) d_.machines->Registered(rec);
  if (restarted) {
    d_.listener->MachineDown(rec, MachineDownCause::kAgentRestarted,
                             "the agent on machine " + rec.name + " restarted");
  }
  d_.listener->MachineRegistered(rec, accepted->running_task_ids);
}

// A registration on <prefix>.register.<m> speaks for machine m only: its id must be m, and
// neither m nor the name it gives may belong to another machine.
std::string Registration::ImpersonationIn(const std::string& subject, const std::string& machine_id,
                                          const std::string& name) const {
  const Subjects subjects(prefix_);
  if (subject == subjects.Register()) return "";
  const std::string id = subjects.MachineIn("register", subject);
  if (machine_id != id) return "a registration on " + subject + " must carry machine id " + id;
  const MachineRecord* by_id = d_.fleet->Find(id);
  const MachineRecord* by_name = d_.fleet->FindByName(name);
  if ((by_id != nullptr && by_id->name != name) || (by_name != nullptr && by_name->id != id)) {
    return "machine " + id + " cannot register under the name " + name.substr(0, 80);
  }
  return "";
}

void Registration::OnHeartbeat(const BusMessage& m) {
  if (stopped_) return;
  auto hb = DecodeOrReject<v1::Heartbeat>(*d_.bus, m, "heartbeat");
  if (!hb) return;
  // The subject names the machine; a heartbeat for another machine is not accepted.
  if (m.subject != Subjects(prefix_).Heartbeat(hb->machine_id())) {
    d_.bus->Stats().Reject("heartbeat", "subject_mismatch", m.subject, m.data.size());
    return;
  }
  const HeartbeatReport report = FromProto(*hb);
  switch (d_.fleet->Heartbeat(report)) {
    case HeartbeatOutcome::kApplied:
      if (!report.running_task_ids.empty()) {
        d_.batch->Open();
        d_.listener->ReportedRunning(report.machine_id, report.running_task_ids);
      }
      if (report.sent_at_unix_ns > 0) {
        heartbeat_lag_.Observe(static_cast<double>(UnixNowNs() - report.sent_at_unix_ns) / 1e9);
      }
      break;
    case HeartbeatOutcome::kUnknownMachine:
      AskToRegister(report.machine_id);
      break;
    case HeartbeatOutcome::kInvalid:
      break;
  }
}

Result<void> Registration::AgentStopping(const AgentEvent& ev) {
  const auto& stopping = std::get<AgentStoppingEvent>(ev.what);
  const MachineRecord* m = d_.fleet->Find(ev.machine_id);
  if (m == nullptr) {
    // A machine the fleet does not know: whatever a task book may still hold for it goes.
    MachineRecord unknown;
    unknown.id = ev.machine_id;
    unknown.name = ev.machine_id;
    d_.listener->MachineDown(unknown, MachineDownCause::kAgentStopped,
                             "the agent on machine " + ev.machine_id + " stopped");
    return {};
  }
  // Stale (the agent registered again since): nothing it holds now is affected.
  if (!d_.fleet->AgentStopped(ev.machine_id, ev.at_ms, "the agent stopped: " + stopping.reason)) {
    return {};
  }
  // No new task may land on a machine whose agent is gone, until it registers again.
  d_.listener->MachineDown(*d_.fleet->Find(ev.machine_id), MachineDownCause::kAgentStopped,
                           "the agent on machine " + ev.machine_id + " stopped");
  return {};
}

// An agent the controller does not know (or has marked lost) is told to register again.
// Rate-limited per machine so a stale agent heartbeating fast cannot make us flood it.
void Registration::AskToRegister(const std::string& machine_id) {
  const int64_t now = d_.clock->NowMs();
  int64_t& last = reregister_asked_[machine_id];
  if (now - last < 1000) return;
  last = now;
  if (reregister_asked_.size() > 100'000) reregister_asked_.clear();
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  cmd.mutable_reregister();
  (void)d_.bus->Publish(Subjects(prefix_).Command(machine_id), cmd.SerializeAsString());
}

void Registration::CheckLiveness() {
  // Cut off from the bus the controller hears no heartbeats, which says nothing about the
  // machines: their deadlines keep moving until the bus is back.
  if (!d_.bus->Connected()) {
    d_.fleet->RefreshDeadlines();
    return;
  }
  auto lost = d_.fleet->CheckLiveness();
  if (lost.empty()) return;
  d_.batch->Open();
  const auto ttl = d_.fleet->options().heartbeat_ttl;
  for (const std::string& id : lost) {
    const MachineRecord& rec = *d_.fleet->Find(id);
    d_.listener->MachineDown(rec, MachineDownCause::kLost,
                             "machine " + rec.name + " was lost (no heartbeat within " +
                                 std::to_string(ttl.count()) + " ms)");
  }
}

void Registration::ScheduleLiveness() {
  // Check often enough that "lost" is declared within ttl + a small fraction of it.
  const auto ttl = d_.fleet->options().heartbeat_ttl;
  auto every = std::max<Duration>(std::chrono::milliseconds(50), ttl / 20);
  liveness_timer_.expires_after(std::min<Duration>(every, std::chrono::milliseconds(250)));
  liveness_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    CheckLiveness();
    ScheduleLiveness();
  });
}

void Registration::ScheduleFlush() {
  flush_timer_.expires_after(kFlushEvery);
  flush_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    FlushStep();
  });
}

// Writes one slice of heartbeat rows, then lets queued work run before the next slice.
void Registration::FlushStep() {
  if (stopped_) return;
  auto done = d_.fleet->FlushSome(kFlushRowsPerStep);
  if (!done) spdlog::error("controller flush: {}", done.error().message);
  if (done && !*done) {
    asio::post(*d_.ioc, [this] { FlushStep(); });
    return;
  }
  ScheduleFlush();
}

}  // namespace autovibe
