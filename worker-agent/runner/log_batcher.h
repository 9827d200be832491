// Turns one task attempt's raw output into TaskLog chunks: few enough events for the bus, soon
// enough for someone following the logs. A stream's bytes leave once `flush_bytes` have piled
// up or `flush_delay` after the first byte that has not left yet, whichever comes first.
//
// Runs on the caller's io_context; every method is for that thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "autovibe/v1/event.pb.h"
#include "common/core/duration.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe {

struct LogBatcherOptions {
  size_t flush_bytes = 32 << 10;  // also the largest chunk sent
  Duration flush_delay = std::chrono::milliseconds(100);
};

class LogBatcher {
 public:
  // Hands a chunk on (to the outbox); false when it was dropped there. Agent notes are never
  // dropped, so their result is ignored.
  using Emit = std::function<bool(v1::TaskLog)>;

  LogBatcher(boost::asio::io_context& ioc, std::string task_id, uint32_t attempt,
             LogBatcherOptions options, Emit emit);
  ~LogBatcher();
  LogBatcher(const LogBatcher&) = delete;
  LogBatcher& operator=(const LogBatcher&) = delete;

  void Append(OutputStream stream, std::string_view data);
  // Finish(), then `text` as a LOG_STREAM_AGENT note, so the note lands after the output it
  // comments on.
  void Note(std::string_view text);
  // Sends what is buffered, then a note about output the outbox dropped and no note told of
  // yet. Call it when the tool is done.
  void Finish();

  // Output bytes the outbox refused (its memory cap), in total.
  uint64_t dropped_bytes() const { return dropped_total_; }

 private:
  struct Buffer {
    v1::LogStream stream;
    std::string data;
  };

  void Flush();
  void FlushBuffer(Buffer& b);
  void Send(v1::LogStream stream, std::string data);
  void NoteDropped();
  void Arm();

  boost::asio::steady_timer timer_;
  const std::string task_id_;
  const uint32_t attempt_;
  const LogBatcherOptions options_;
  Emit emit_;
  Buffer out_{v1::LOG_STREAM_STDOUT, {}};
  Buffer err_{v1::LOG_STREAM_STDERR, {}};
  uint64_t next_seq_ = 1;
  uint64_t dropped_total_ = 0;
  uint64_t dropped_unreported_ = 0;
  std::chrono::steady_clock::time_point last_drop_note_{};
  bool armed_ = false;
  // A timer completion already queued when the batcher dies still runs: it checks this first.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace autovibe
