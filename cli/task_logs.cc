#include "cli/task_logs.h"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/verbs.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// A task's output can come in pages; this many is more than any controller sends.
constexpr int kMaxPages = 10'000;

// Every chunk so far, over as many pages as the controller cuts it into. Returns the last page
// with "chunks" holding all of them.
CliResult<json::object> FetchLogs(const Client& client, const std::string& id) {
  json::array chunks;
  int64_t after = 0;
  for (int page = 0; page < kMaxPages; ++page) {
    const std::string path =
        "/v1/tasks/" + PathSegment(id) + "/logs?after=" + std::to_string(after);
    auto body = client.Call("GET", path);
    if (!body) return body.error();
    auto obj = ExpectObject(*body, "GET " + path);
    if (!obj) return obj.error();
    const json::value* page_chunks = (*obj)->if_contains("chunks");
    if (page_chunks == nullptr || !page_chunks->is_array()) {
      return CliError{kExitFailure, "unexpected answer from the controller to GET " + path +
                                        ": no \"chunks\" list"};
    }
    for (const auto& c : page_chunks->get_array()) chunks.push_back(c);
    json::object last = **obj;
    const auto next = IntField(last, "next_after");
    const auto* done = last.if_contains("done");
    if (page_chunks->get_array().empty() || (done && done->is_bool() && done->get_bool()) ||
        !next || *next <= after) {
      last["chunks"] = std::move(chunks);
      return last;
    }
    after = *next;
  }
  return CliError{kExitFailure, "the controller kept sending more log pages for " + id};
}

// Prints what a follow hears: chunks as text, or every event as a JSON line.
class LogFollowPrinter final : public TaskObserver {
 public:
  LogFollowPrinter(std::ostream& out, bool as_json, const Terminal& term)
      : out_(out), as_json_(as_json), term_(term), printer_(out) {}

  void OnLog(const json::object& chunk) override {
    outage_ = false;
    if (as_json_) return Event("log", chunk);
    printer_.Print(chunk);
    out_.flush();
  }
  void OnState(const json::object& state) override {
    outage_ = false;
    if (as_json_) return Event("state", state);
    // A pause and its end are told on stderr, so the output stays the tool's own.
    const std::string now = StringField(state, "state");
    if (now == "paused" && state_ != "paused") {
      out_.flush();
      *term_.err << "autovibe: task paused: " << OrDash(StringField(state, "reason")) << '\n';
    } else if (state_ == "paused" && now != "paused" && !now.empty()) {
      *term_.err << "autovibe: task resumed: " << now << '\n';
    }
    if (!now.empty()) state_ = now;
  }
  void OnReconnect(const CliError& why, std::chrono::milliseconds delay) override {
    if (outage_) return;  // once per outage is enough
    outage_ = true;
    *term_.err << "autovibe: " << ReconnectNote(why, delay) << '\n';
  }
  void Event(std::string_view name, const json::object& data) {
    out_ << json::serialize(json::object{{"event", name}, {"data", data}}) << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
  bool as_json_;
  const Terminal& term_;
  LogPrinter printer_;
  bool outage_ = false;
  std::string state_;
};

}  // namespace

void AddLogsCommand(CLI::App& task, Invocation& inv) {
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  CLI::App* logs = AddVerb(task, inv, "logs", "Print a task's output; -f follows it to the end",
                           [id, follow](CommandContext& ctx) {
                             return ShowTaskLogs(ctx, *id, *follow, ProcessTerminal());
                           });
  logs->add_option("ID", *id, "Task id")->required();
  logs->add_flag("-f,--follow", *follow,
                 "Keep printing new output until the task ends (with --json: one JSON line per "
                 "event)");
}

CliStatus ShowTaskLogs(CommandContext& ctx, const std::string& id, bool follow,
                       const Terminal& term) {
  if (follow) {
    LogFollowPrinter printer(ctx.out, ctx.options.json, term);
    auto end = FollowTask(ctx.client, id, printer, term.sleep);
    if (!end) return end.error();
    if (ctx.options.json) printer.Event("end", *end);
    return {};
  }
  auto logs = FetchLogs(ctx.client, id);
  if (!logs) return logs.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *logs);
    return {};
  }
  LogPrinter printer(ctx.out);
  for (const auto& chunk : logs->at("chunks").get_array()) {
    if (chunk.is_object()) printer.Print(chunk.get_object());
  }
  return {};
}

void LogPrinter::Print(const json::object& chunk) {
  const std::string data = StringField(chunk, "data");
  if (StringField(chunk, "stream") != "agent") return Write(data);
  // Each line of a note gets the prefix, on a line of its own.
  if (!at_line_start_) Write("\n");
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    Write("[autovibe] " + data.substr(start, end - start) + "\n");
    start = end + 1;
  }
}

void LogPrinter::Write(std::string_view text) {
  if (text.empty()) return;
  out_ << text;
  at_line_start_ = text.back() == '\n';
}

}  // namespace autovibe::cli
