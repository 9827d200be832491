#include "worker-agent/runner/log_batcher.h"

#include <algorithm>

namespace autovibe {
namespace {

// While the outbox drops output, say so at most this often: the notes themselves are never
// dropped, so they must not pile up in its place.
constexpr auto kDropNoteEvery = std::chrono::seconds(1);

}  // namespace

LogBatcher::LogBatcher(boost::asio::io_context& ioc, std::string task_id, uint32_t attempt,
                       LogBatcherOptions options, Emit emit)
    : timer_(ioc),
      task_id_(std::move(task_id)),
      attempt_(attempt),
      options_(options),
      emit_(std::move(emit)) {}

LogBatcher::~LogBatcher() { timer_.cancel(); }

void LogBatcher::Append(OutputStream stream, std::string_view data) {
  Buffer& b = stream == OutputStream::kStdout ? out_ : err_;
  b.data.append(data);
  if (b.data.size() >= options_.flush_bytes) {
    FlushBuffer(b);
  } else if (!b.data.empty()) {
    Arm();
  }
}

void LogBatcher::Note(std::string_view text) {
  Finish();
  Send(v1::LOG_STREAM_AGENT, std::string(text));
}

void LogBatcher::Finish() {
  Flush();
  if (dropped_unreported_ > 0) NoteDropped();
}

void LogBatcher::Flush() {
  timer_.cancel();
  armed_ = false;
  FlushBuffer(out_);
  FlushBuffer(err_);
}

void LogBatcher::FlushBuffer(Buffer& b) {
  for (size_t at = 0; at < b.data.size(); at += options_.flush_bytes) {
    Send(b.stream, b.data.substr(at, options_.flush_bytes));
  }
  b.data.clear();
}

void LogBatcher::Send(v1::LogStream stream, std::string data) {
  const bool output = stream != v1::LOG_STREAM_AGENT;
  // Say what was lost before the output that follows the gap (rate-limited, see above).
  if (output && dropped_unreported_ > 0 &&
      std::chrono::steady_clock::now() - last_drop_note_ >= kDropNoteEvery) {
    NoteDropped();
  }
  v1::TaskLog log;
  log.set_task_id(task_id_);
  log.set_attempt(attempt_);
  log.set_seq(next_seq_);
  log.set_stream(stream);
  const size_t size = data.size();
  log.set_data(std::move(data));
  if (emit_(std::move(log)) || !output) {
    ++next_seq_;
    return;
  }
  // Dropped: the seq is not used, so the controller sees no gap it could wait for.
  dropped_total_ += size;
  dropped_unreported_ += size;
}

void LogBatcher::NoteDropped() {
  const uint64_t n = dropped_unreported_;
  dropped_unreported_ = 0;
  last_drop_note_ = std::chrono::steady_clock::now();
  Send(v1::LOG_STREAM_AGENT,
       "output dropped: " + std::to_string(n) +
           " bytes (the agent's event queue was full while the controller was unreachable)");
}

void LogBatcher::Arm() {
  if (armed_) return;
  armed_ = true;
  timer_.expires_after(options_.flush_delay);
  timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    // Both streams go: the other one's bytes are younger than the delay, so sending them early
    // costs nothing and keeps one timer per task.
    Flush();
  });
}

}  // namespace autovibe
