#include "cli/events_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>
#include <optional>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr size_t kMaxDataText = 160;

// "2026-12-06T18:00:00.123Z  task.running  demo  t-0a1b  {"machine_id":"m-1"}".
std::string EventLine(const json::object& e) {
  std::string data;
  if (const json::value* d = e.if_contains("data"); d != nullptr && d->is_object()) {
    json::object shown = d->get_object();
    shown.erase("object");
    shown.erase("object_kind");
    if (!shown.empty()) data = Truncate(json::serialize(shown), kMaxDataText);
  }
  std::string line = OrDash(StringField(e, "at")) + "  " + OrDash(StringField(e, "kind")) + "  " +
                     OrDash(StringField(e, "project")) + "  " + OrDash(StringField(e, "object"));
  if (!data.empty()) line += "  " + data;
  return line;
}

// One look at the stream, or a follow across as many connections as it takes.
class EventsReader {
 public:
  EventsReader(CommandContext& ctx, const EventsFlags& f) : ctx_(ctx), f_(f), last_(f.since) {}

  CliStatus Run(const Sleeper& sleep) {
    std::chrono::milliseconds delay{0};
    for (;;) {
      heard_ = false;
      CliStatus status =
          ctx_.client.Follow(EventsPath(f_, last_), [this](const SseEvent& e) { return On(e); });
      if (failure_) return *failure_;
      if (!f_.follow) return status;
      if (!status && status.error().exit_code != kExitUnreachable) return status;
      delay = heard_ ? std::chrono::milliseconds(0) : NextBackoff(delay);
      if (ctx_.err != nullptr && !heard_) {
        *ctx_.err << ReconnectNote(
                         status ? CliError{kExitUnreachable, "the controller ended the stream"}
                                : status.error(),
                         delay)
                  << "\n";
      }
      if (delay.count() > 0) sleep(delay);
    }
  }

 private:
  bool On(const SseEvent& e) {
    boost::system::error_code ec;
    json::value v = json::parse(e.data, ec);
    if (ec || !v.is_object()) {
      failure_ = CliError{kExitFailure, "the controller sent a malformed \"" + e.event +
                                            "\" event: " + Truncate(e.data, 120)};
      return false;
    }
    const json::object& o = v.get_object();
    if (e.event == "open") {
      // Where the stream starts: a follow without --since resumes from here. A reset: the
      // controller's database is older than what this reader saw (a backup restored).
      const auto id = IntField(o, "last_id");
      const bool reset = o.contains("reset");
      if (id && (last_ < 0 || reset)) last_ = *id;
      if (reset && ctx_.err != nullptr) {
        *ctx_.err << "the controller's events start over at " << *id
                  << " (its database is older than what was shown)\n";
      }
      return true;
    }
    if (e.event == "dropped") {
      // Too slow for the controller: go on from the last event it had queued for us.
      if (auto id = IntField(o, "last_id")) last_ = std::max(last_, *id);
      if (ctx_.err != nullptr)
        *ctx_.err << "the controller dropped this reader: " << StringField(o, "reason") << "\n";
      return false;
    }
    heard_ = true;
    const auto id = IntField(o, "id");
    if (id && *id <= last_) return true;  // seen before a reconnection
    if (id) last_ = *id;
    if (ctx_.options.json) {
      ctx_.out << json::serialize(o) << "\n";
    } else {
      ctx_.out << EventLine(o) << "\n";
    }
    ctx_.out.flush();
    return true;
  }

  CommandContext& ctx_;
  const EventsFlags& f_;
  int64_t last_;
  bool heard_ = false;
  std::optional<CliError> failure_;
};

}  // namespace

std::string EventsPath(const EventsFlags& f, int64_t since) {
  std::string path = "/v1/events?";
  if (!f.kinds.empty()) path += "kind=" + PathSegment(Join(f.kinds, ",")) + "&";
  if (!f.project.empty()) path += "project=" + PathSegment(f.project) + "&";
  // A follow with no --since starts with what happens next; it resumes after what it saw.
  if (since >= 0) path += "since=" + std::to_string(since) + "&";
  path += f.follow ? "follow=true" : "follow=false";
  return path;
}

CliStatus ShowEvents(CommandContext& ctx, const EventsFlags& f, const Sleeper& sleep) {
  return EventsReader(ctx, f).Run(sleep);
}

void AddEventsCommand(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<EventsFlags>();
  CLI::App* events = app.add_subcommand(
      "events",
      "Show what changed: machines, tasks, budgets, checkpoints, approvals. The last 100, or "
      "with -f new ones as they happen");
  events->add_flag("-f,--follow", f->follow, "Keep printing new events until interrupted");
  events
      ->add_option("--kind", f->kinds,
                   "Only events of this kind: task, task.failed, budget, checkpoint.taken ... "
                   "(repeatable)")
      ->type_name("K");
  events->add_option("--project", f->project, "Only events of this project")->type_name("P");
  events->add_option("--since", f->since, "Only events after this id (resume where you were)")
      ->type_name("ID")
      ->check(CLI::NonNegativeNumber);
  events->callback([&inv, f] {
    inv.command = "events";
    inv.action = [f](CommandContext& ctx) { return ShowEvents(ctx, *f); };
  });
}

}  // namespace autovibe::cli
