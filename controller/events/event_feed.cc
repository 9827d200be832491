#include "controller/events/event_feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <limits>

#include "controller/events/event_json.h"

namespace autovibe {

EventFeed::EventFeed(Store& store, WriteBatch& batch, EventFeedOptions options)
    : store_(store), batch_(batch), options_(options) {}

EventFeed::~EventFeed() {
  *alive_ = false;
  store_.ObserveEvents(nullptr);
  for (auto& f : followers_) f->stream->Close();
}

Result<void> EventFeed::Start() {
  auto last = store_.LastEventSeq();
  if (!last) return last.error();
  committed_ = *last;
  store_.ObserveEvents([this] { Appended(); });
  return {};
}

void EventFeed::Appended() {
  if (flush_queued_) return;
  flush_queued_ = true;
  batch_.AfterCommit([this, alive = alive_] {
    if (*alive) Committed();
  });
}

void EventFeed::Committed() {
  flush_queued_ = false;
  // Another batch opened before this ran: what it appends is read once it commits.
  if (store_.InTransaction()) return Appended();
  std::erase_if(followers_, [](const auto& f) { return !f->stream->open(); });
  // Nobody follows live (the usual case): nothing to read or format, only the mark to move.
  // Readers still catching up read up to it from the store themselves.
  if (std::none_of(followers_.begin(), followers_.end(), [](const auto& f) { return f->live; })) {
    auto last = store_.LastEventSeq();
    if (!last) {
      spdlog::error("events feed cannot read the last event: {}", last.error().message);
      return;
    }
    committed_ = std::max(committed_, *last);
    return;
  }
  std::vector<StoredEvent> fresh;
  for (;;) {
    auto page = store_.EventsAfter(committed_, std::numeric_limits<int64_t>::max(), options_.page);
    if (!page) {
      spdlog::error("events feed cannot read new events: {}", page.error().message);
      break;
    }
    if (page->empty()) break;
    committed_ = page->back().seq;
    const bool more = page->size() == options_.page;
    fresh.insert(fresh.end(), std::make_move_iterator(page->begin()),
                 std::make_move_iterator(page->end()));
    if (!more) break;
  }
  if (fresh.empty()) return;
  // Made once, whatever the number of readers.
  std::vector<std::string> texts;
  texts.reserve(fresh.size());
  for (const StoredEvent& e : fresh) texts.push_back(SseEvent(e));
  for (auto& f : followers_) {
    if (!f->live || !f->stream->open()) continue;
    for (size_t i = 0; i < fresh.size(); ++i) Send(*f, fresh[i], &texts[i]);
    if (f->stream->queued_bytes() > options_.max_unsent_bytes) {
      Drop(*f, "this reader fell behind by more than " + std::to_string(options_.max_unsent_bytes) +
                   " bytes; resume with since=last_id");
    }
  }
  std::erase_if(followers_, [](const auto& f) { return !f->stream->open(); });
}

void EventFeed::Follow(EventFilter filter, std::optional<int64_t> since, bool follow,
                       std::shared_ptr<HttpBodyStream> stream) {
  auto f = std::make_shared<Follower>();
  f->filter = std::move(filter);
  f->stream = std::move(stream);
  f->follow = follow;
  f->sent = since ? std::clamp<int64_t>(*since, 0, committed_) : committed_;
  if (follow) {
    boost::json::object open{{"last_id", committed_}};
    if (since && *since > committed_) open["reset"] = true;
    f->stream->Write("event: open\ndata: " + boost::json::serialize(open) + "\n\n");
  }
  followers_.push_back(f);
  CatchUp(f);
}

// Sends a page of stored events, then waits until the reader has taken them before the next:
// a reader far behind costs one page of memory, however far behind it is.
void EventFeed::CatchUp(const std::shared_ptr<Follower>& f) {
  if (!f->stream->open()) return;
  auto page = store_.EventsAfter(f->sent, committed_, options_.page);
  if (!page) {
    spdlog::error("events feed cannot read stored events: {}", page.error().message);
    f->stream->Close();
    return;
  }
  for (const StoredEvent& e : *page) Send(*f, e);
  if (page->size() == options_.page) {
    f->stream->WhenSent([this, alive = alive_, weak = std::weak_ptr<Follower>(f)] {
      auto follower = weak.lock();
      if (*alive && follower) CatchUp(follower);
    });
    return;
  }
  // Caught up with what has committed; what commits from now on comes live.
  if (!f->follow) {
    f->stream->Close();
    return;
  }
  f->live = true;
}

void EventFeed::Send(Follower& f, const StoredEvent& e, const std::string* text) {
  if (e.seq <= f.sent) return;
  f.sent = e.seq;
  if (f.filter.Passes(e)) f.stream->Write(text != nullptr ? *text : SseEvent(e));
}

void EventFeed::Drop(Follower& f, const std::string& reason) {
  ++dropped_;
  spdlog::warn("events feed dropped a reader at id {}: {}", f.sent, reason);
  f.stream->Write(SseDropped(f.sent, reason));
  f.stream->Close();
}

Result<std::vector<StoredEvent>> EventFeed::TaskHistory(const EventFilter& filter) {
  auto all = store_.tasks().TaskEvents(filter.task);
  if (!all) return all.error();
  std::erase_if(*all,
                [&](const StoredEvent& e) { return e.seq > committed_ || !filter.Passes(e); });
  if (all->size() > options_.max_history) {
    all->erase(all->begin(), all->end() - static_cast<ptrdiff_t>(options_.max_history));
  }
  return all;
}

Result<std::vector<StoredEvent>> EventFeed::Last(const EventFilter& filter, size_t n) {
  // Newest first, a page at a time, until `n` pass or the store has no more.
  std::vector<StoredEvent> out;
  // One project to look in: the one asked for, or the only one the token sees.
  std::optional<std::string> project;
  if (!filter.project.empty()) {
    project = filter.project;
  } else if (filter.scope.size() == 1) {
    project = filter.scope.front();
  }
  int64_t upto = committed_;
  size_t scanned = 0;
  while (out.size() < n && upto > 0 && scanned < options_.max_scan) {
    auto page = store_.LastEvents(upto, options_.page, project);
    if (!page) return page.error();
    if (page->empty()) break;
    scanned += page->size();
    upto = page->front().seq - 1;
    for (auto it = page->rbegin(); it != page->rend() && out.size() < n; ++it) {
      if (filter.Passes(*it)) out.push_back(std::move(*it));
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace autovibe
