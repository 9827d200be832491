// The agent's outbox on disk (event_outbox.h): what must survive a crash of the agent, kept in
// segment files `outbox-<n>.log` of one directory (0700; files 0600) until it is not needed.
//
// Every entry is one frame: a 9-byte header (the payload's length, u32; a CRC-32 of the length,
// kind and payload, u32; the kind, u8; little endian) and the payload. Reading keeps every whole
// entry in order; a torn tail (the part of its last entry a crash left) is cut at the last good
// entry, and a damaged entry (a bad checksum) is skipped up to the next good frame and counted.
//
// Durability: Append() writes the entry (one writev(2)) before it returns, so a crash of the
// agent (kill -9) loses nothing appended. Against a crash of the machine a sync thread makes
// entries durable in groups: one fdatasync for everything appended since the last (a group
// commit), never on the appender's thread, which only wakes the sync thread when it sleeps; the
// thread then gathers appends for `group_window` first. A power loss may so lose the entries of
// the last few milliseconds.
//
// Space: an entry is appended live or not; Release() says a live one is no longer needed.
// Segments are deleted oldest first once everything in them is released and a newer segment
// is written (so an entry that exists always has every later entry with it); the current
// segment rolls over at `segment_bytes`, or once it holds nothing live past `idle_roll_bytes`.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

enum class OutboxEntryKind : uint8_t {
  kEvent = 1,     // an AgentEvent to publish
  kAcked = 2,     // the event id of the last event JetStream acknowledged
  kFallback = 3,  // an AgentEvent to publish only if no event with its id follows it
};

struct OutboxLogOptions {
  std::string dir;
  uint64_t segment_bytes = 4 << 20;
  uint64_t idle_roll_bytes = 64 << 10;
  // Woken by an append, the sync thread waits this long before it syncs, so that one
  // fdatasync (and one wake-up) covers the appends of a busy stretch, not each one.
  std::chrono::milliseconds group_window{5};
};

class OutboxLog {
 public:
  // The segment an entry went to; what Release() takes.
  using Ref = uint64_t;

  struct Entry {
    OutboxEntryKind kind = OutboxEntryKind::kEvent;
    std::string payload;
  };
  // What Open() found in the segments a previous run left.
  struct Recovered {
    std::vector<Entry> entries;  // in the order they were appended
    uint64_t cut_bytes = 0;      // of torn tails
    uint64_t skipped_entries = 0;
    uint64_t skipped_bytes = 0;  // of damaged entries skipped in the middle of a segment
  };

  // Opens the directory (creating it, 0700), reads every segment in it into `found` and starts
  // a new segment. The old segments stay until DropRecovered(). Errors: kIo.
  static Result<std::unique_ptr<OutboxLog>> Open(OutboxLogOptions options, Recovered& found);
  // Flushes what is appended (the sync thread's last group) and closes the files.
  ~OutboxLog();
  OutboxLog(const OutboxLog&) = delete;
  OutboxLog& operator=(const OutboxLog&) = delete;

  // Makes what was appended since Open() durable, then deletes the segments Open() read: call
  // it once what they held that is still needed was appended again.
  Result<void> DropRecovered();

  // Writes one entry; live entries pin their segment until released. Errors: kIo (the entry
  // may then be partly written: the next reading cuts it).
  Result<Ref> Append(OutboxEntryKind kind, std::string_view payload, bool live);
  void Release(Ref ref);

  // Blocks until everything appended before the call is durable. For shutdown and tests.
  Result<void> Sync();

  // fdatasync calls made by the sync thread (each covers a group of appends), for tests.
  uint64_t SyncsForTest() const;
  size_t SegmentsForTest() const;

 private:
  struct File;
  struct Segment {
    uint64_t number = 0;
    std::shared_ptr<File> file;
    uint64_t bytes = 0;
    uint64_t live = 0;
  };

  explicit OutboxLog(OutboxLogOptions options);
  Result<void> StartSegment(uint64_t number);  // mu_ held
  void DeleteReleased();                       // mu_ held
  std::string PathOf(uint64_t number) const;
  void SyncLoop();

  const OutboxLogOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_sync_;
  std::condition_variable synced_cv_;
  std::deque<Segment> segments_;                 // oldest first; the last is written to
  std::vector<std::string> recovered_;           // paths of the segments Open() read
  std::vector<std::shared_ptr<File>> unsynced_;  // rolled over with appends not yet synced
  uint64_t appended_ = 0;                        // entries appended, ever
  uint64_t synced_ = 0;                          // of those, durable
  uint64_t syncs_ = 0;
  bool dir_dirty_ = false;    // a segment was created or deleted since the last sync
  bool sync_idle_ = false;    // the sync thread waits for an append
  bool syncing_ = false;      // the sync thread is in a round (outside mu_)
  bool force_round_ = false;  // Sync() asks for a round even with nothing appended
  bool stopping_ = false;
  std::string sync_error_;  // the last failed sync, reported by Sync()
  std::thread sync_thread_;
};

// The frame of one entry (header and payload), and the reading of a segment's bytes: the whole
// entries, where the good part ends, and what was skipped as damaged. Exposed for tests.
std::string OutboxFrame(OutboxEntryKind kind, std::string_view payload);
struct OutboxSegmentRead {
  std::vector<OutboxLog::Entry> entries;
  uint64_t good_bytes = 0;  // the segment is cut here (a torn or damaged tail follows)
  uint64_t skipped_entries = 0;
  uint64_t skipped_bytes = 0;
};
OutboxSegmentRead ReadOutboxSegment(std::string_view bytes);

}  // namespace autovibe
