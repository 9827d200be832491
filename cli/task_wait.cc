#include "cli/task_wait.h"

#include <algorithm>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "cli/task_change.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr std::string_view kClearLine = "\r\x1b[K";
// A terminal redraw at most this often for log lines; state changes redraw at once.
constexpr int64_t kRedrawEveryMs = 100;
// Enough of the output's end to find its last line.
constexpr size_t kTailBytes = 4096;

std::string MachineOf(const json::object& obj) {
  std::string name = StringField(obj, "machine_name");
  return name.empty() ? StringField(obj, "machine_id") : name;
}

// Drops an escape sequence starting at text[i] (ESC); returns the index after it.
size_t SkipEscape(std::string_view text, size_t i) {
  if (i + 1 < text.size() && text[i + 1] == '[') {
    // CSI: parameters and intermediates, then one final byte in @..~.
    size_t j = i + 2;
    while (j < text.size() && (text[j] < 0x40 || text[j] > 0x7E)) ++j;
    return j + 1;
  }
  return i + 2;
}

std::string Clean(std::string_view line) {
  std::string out;
  for (size_t i = 0; i < line.size();) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1B) {
      i = SkipEscape(line, i);
      continue;
    }
    if (c == '\t') out += ' ';
    if (c >= 0x20 && c != 0x7F) out += line[i];
    ++i;
  }
  const auto last = out.find_last_not_of(' ');
  return last == std::string::npos ? "" : out.substr(0, last + 1);
}

// Shows one follow: keeps the progress line up to date on the terminal.
class ProgressLine final : public TaskObserver {
 public:
  ProgressLine(const json::object& task, const Terminal& term, bool through_pauses)
      : term_(term), through_pauses_(through_pauses) {
    progress_.id = StringField(task, "id");
    started_ms_ = term_.now_ms();
    Update(task);
  }

  void OnState(const json::object& state) override {
    outage_ = false;
    Update(state);
  }

  void OnLog(const json::object& chunk) override {
    outage_ = false;
    tail_ += StringField(chunk, "data");
    if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    if (std::string line = LastLogLine(tail_); !line.empty()) progress_.last_log = line;
    if (term_.is_tty && term_.now_ms() - drawn_ms_ >= kRedrawEveryMs) Draw();
  }

  void OnReconnect(const CliError& why, std::chrono::milliseconds delay) override {
    if (outage_) return;  // once per outage is enough
    outage_ = true;
    if (term_.is_tty) *term_.err << kClearLine;
    *term_.err << "autovibe: " << ReconnectNote(why, delay) << '\n';
    if (term_.is_tty) Draw();
  }

  // A task awaiting review waits on a person, maybe for days: the wait ends there.
  bool Done() const override { return (paused_ && !through_pauses_) || awaiting_review_; }
  bool AwaitingReview() const { return awaiting_review_; }

  // Clears the line and shows the outcome, and what to do with a change.
  void Finish(const json::object& task) {
    if (term_.is_tty) *term_.err << kClearLine;
    *term_.err << FormatOutcome(task, Elapsed()) << '\n';
    if (std::string next = ChangeNextSteps(task); !next.empty()) *term_.err << next << '\n';
    term_.err->flush();
  }

 private:
  // Takes the state, machine and attempts of a task or state event.
  void Update(const json::object& obj) {
    if (std::string machine = MachineOf(obj); !machine.empty()) progress_.machine = machine;
    if (const auto n = IntField(obj, "attempts")) progress_.attempts = *n;
    if (std::string state = StringField(obj, "state"); !state.empty()) {
      const bool was_paused = paused_;
      paused_ = state == "paused";
      awaiting_review_ = state == "awaiting_review";
      progress_.state = state;
      // A pause is news a user must see at once, whatever the terminal: it may last for hours.
      if (paused_ && !was_paused)
        return Note(FormatPause(progress_, StringField(obj, "reason"), Elapsed(), through_pauses_));
      if (was_paused && !paused_) Note(progress_.id + " resumed: " + state);
      if (awaiting_review_) return;  // the outcome line says it
    }
    if (term_.is_tty) return Draw();
    // Without a terminal, a line per change: a log file reads well.
    const std::string key =
        progress_.state + "/" + progress_.machine + "/" + std::to_string(progress_.attempts);
    if (key == printed_) return;
    printed_ = key;
    Progress plain = progress_;
    plain.elapsed_ms = Elapsed();
    plain.last_log.clear();
    *term_.err << FormatProgress(plain, std::string::npos) << '\n';
    term_.err->flush();
  }

  // A line of its own, above the progress line.
  void Note(const std::string& text) {
    if (term_.is_tty) *term_.err << kClearLine;
    *term_.err << text << '\n';
    printed_.clear();
    if (term_.is_tty) return Draw();
    term_.err->flush();
  }

  void Draw() {
    progress_.elapsed_ms = Elapsed();
    drawn_ms_ = term_.now_ms();
    // One column short of the width: writing the last column makes some terminals wrap.
    *term_.err << '\r' << FormatProgress(progress_, std::max<size_t>(term_.width, 2) - 1)
               << "\x1b[K";
    term_.err->flush();
  }

  int64_t Elapsed() const { return term_.now_ms() - started_ms_; }

  const Terminal& term_;
  Progress progress_;
  int64_t started_ms_ = 0;
  int64_t drawn_ms_ = 0;
  std::string tail_;
  std::string printed_;
  bool outage_ = false;
  const bool through_pauses_;
  bool paused_ = false;
  bool awaiting_review_ = false;
};

// The whole task once the wait ended at a state event (which carries only the state).
CliResult<json::object> WholeTask(const Client& client, const std::string& id) {
  const std::string path = "/v1/tasks/" + PathSegment(id);
  auto body = client.Call("GET", path);
  if (!body) return body.error();
  auto task = ExpectObject(*body, "GET " + path);
  if (!task) return task.error();
  return **task;
}

}  // namespace

CliStatus WaitForTask(CommandContext& ctx, const json::object& submitted, const Terminal& term,
                      bool through_pauses) {
  const std::string id = StringField(submitted, "id");
  ProgressLine line(submitted, term, through_pauses);
  auto end = FollowTask(ctx.client, id, line, term.sleep);
  if (!end) {
    if (term.is_tty) *term.err << kClearLine;
    return end.error();
  }
  if (line.AwaitingReview()) {
    auto task = WholeTask(ctx.client, id);
    if (!task) return task.error();
    line.Finish(*task);
    if (ctx.options.json) PrintJson(ctx.out, *task);
    return {};
  }
  if (line.Done()) {  // paused: the pause line has said why
    if (term.is_tty) *term.err << kClearLine;
    term.err->flush();
    if (ctx.options.json) {
      json::object state = *end;
      state["id"] = id;
      PrintJson(ctx.out, state);
    }
    return CliError{kExitPaused, ""};
  }
  line.Finish(*end);
  if (ctx.options.json) PrintJson(ctx.out, *end);
  const int code = TaskExitCode(*end);
  if (code != 0) return CliError{code, ""};
  return {};
}

int TaskExitCode(const json::object& task) {
  const std::string state = StringField(task, "state");
  if (state == "succeeded") return 0;
  const auto code = IntField(task, "exit_code");
  if (state == "failed" && code && *code > 0 && *code < 256) return static_cast<int>(*code);
  return kExitFailure;
}

std::string FormatProgress(const Progress& p, size_t width) {
  std::string line = p.id + " " + (p.state.empty() ? "submitted" : p.state);
  if (!p.machine.empty()) line += " on " + p.machine;
  if (p.attempts > 1) line += " (attempt " + std::to_string(p.attempts) + ")";
  line += ", " + FormatElapsed(p.elapsed_ms);
  if (!p.last_log.empty()) line += ": " + p.last_log;
  return Truncate(line, width);
}

std::string LastLogLine(std::string_view output) {
  size_t end = output.size();
  while (end > 0) {
    const size_t start = output.find_last_of("\r\n", end - 1);
    const size_t from = start == std::string_view::npos ? 0 : start + 1;
    std::string line = Clean(output.substr(from, end - from));
    if (!line.empty()) return line;
    if (start == std::string_view::npos) break;
    end = start;
  }
  return "";
}

std::string FormatPause(const Progress& p, const std::string& reason, int64_t elapsed_ms,
                        bool waiting_on) {
  std::string line = p.id + " paused after " + FormatElapsed(elapsed_ms);
  if (!p.machine.empty()) line += " on " + p.machine;
  line += ": " + (reason.empty() ? std::string("no reason given") : reason) + "\n";
  line +=
      "  it goes on when its project may spend again (autovibe budget set, autovibe project "
      "resume) or with: autovibe task resume " +
      p.id;
  if (!waiting_on) line += "\n  (--wait-through-pauses keeps waiting through a pause)";
  return line;
}

std::string FormatOutcome(const json::object& task, int64_t elapsed_ms) {
  const std::string state = StringField(task, "state");
  std::string line = OrDash(StringField(task, "id")) + " " + OrDash(state);
  // (A task awaiting review ran to success; its exit code is no news.)
  if (const auto code = IntField(task, "exit_code");
      code && state != "succeeded" && state != "awaiting_review") {
    line += " with exit code " + std::to_string(*code);
  }
  line += (state == "succeeded" ? " in " : " after ") + FormatElapsed(elapsed_ms);
  if (std::string machine = MachineOf(task); !machine.empty()) line += " on " + machine;
  if (std::string reason = StringField(task, "reason"); !reason.empty()) line += ": " + reason;
  return line;
}

}  // namespace autovibe::cli
