// The live events stream (GET /v1/events): the events the controller records in its store
// (controller/model/event.h), each sent once its write batch has committed, to every follower
// whose filter it passes. A follower first catches up from the store (paced by how fast it
// reads), then gets events as they commit. One whose unsent bytes pass a bound is dropped
// with a last event naming where to resume: a slow or stuck reader never holds the controller
// back. Owner-thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/core/result.h"
#include "common/http/http.h"
#include "controller/events/event_filter.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct EventFeedOptions {
  size_t max_unsent_bytes = 1 << 20;  // a live follower with more unsent is dropped
  size_t page = 256;                  // events read from the store at once
  size_t max_followers = 1024;        // streams at once; more are refused
  size_t max_scan = 10'000;           // events a listing looks through at most
  size_t max_history = 2'000;         // a task's last events a history holds
};

class EventFeed {
 public:
  EventFeed(Store& store, WriteBatch& batch, EventFeedOptions options = {});
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // Learns the last event stored, and from then on hears of each event appended.
  Result<void> Start();

  // Sends `stream` the events after `since` that pass `filter` (none before now when unset),
  // then, when `follow`, each new one as it commits; else it ends once caught up. A follow
  // starts with "event: open" naming the last event id (`last_id`), to resume from whatever
  // comes; `reset` is true there when `since` is past it (the database is older than what the
  // reader saw: a backup restored).
  void Follow(EventFilter filter, std::optional<int64_t> since, bool follow,
              std::shared_ptr<HttpBodyStream> stream);

  // The last max_history events of `filter.task` that pass `filter`, oldest first.
  Result<std::vector<StoredEvent>> TaskHistory(const EventFilter& filter);
  // The last `n` committed events that pass `filter`, oldest first, among the last max_scan
  // (of the one project the filter names or its token sees, when one).
  Result<std::vector<StoredEvent>> Last(const EventFilter& filter, size_t n);

  size_t followers() const { return followers_.size(); }
  bool full() const { return followers_.size() >= options_.max_followers; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Follower {
    EventFilter filter;
    std::shared_ptr<HttpBodyStream> stream;
    int64_t sent = 0;  // the seq of the last event looked at for it
    bool live = false;
    bool follow = true;
  };

  void Appended();
  void Committed();
  void CatchUp(const std::shared_ptr<Follower>& f);
  // `text`: the event as SSE, when made already.
  void Send(Follower& f, const StoredEvent& e, const std::string* text = nullptr);
  void Drop(Follower& f, const std::string& reason);

  Store& store_;
  WriteBatch& batch_;
  EventFeedOptions options_;
  int64_t committed_ = 0;  // the last event read after a commit
  bool flush_queued_ = false;
  uint64_t dropped_ = 0;
  std::vector<std::shared_ptr<Follower>> followers_;
  // Tells callbacks still queued (a follower's WhenSent) that the feed is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe
