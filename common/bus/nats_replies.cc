#include "common/bus/nats_replies.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

namespace autovibe {
namespace {

Error RequestError(std::string_view subject, natsStatus s) {
  ErrorCode code = s == NATS_TIMEOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
  if (s == NATS_NO_RESPONDERS) code = ErrorCode::kNoResponders;
  return MakeError(code, "request " + std::string(subject) + ": " + natsStatus_GetText(s));
}

}  // namespace

NatsReplies::Callback NatsReplies::Table::Take(uint64_t id) {
  auto it = pending.find(id);
  if (it == pending.end()) return nullptr;
  Callback done = std::move(it->second.done);
  deadlines.erase(it->second.deadline);
  pending.erase(it);
  return done;
}

Result<std::unique_ptr<NatsReplies>> NatsReplies::Start(natsConnection* nc,
                                                        const std::string& inbox_prefix) {
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK)
    return MakeError(ErrorCode::kUnavailable, "inbox: " + std::string(natsStatus_GetText(s)));
  std::string prefix = std::string(inbox) + ".";
  natsInbox_Destroy(inbox);
  // "_INBOX.<nuid>." -> "<custom prefix>.<nuid>.": a machine may only read its own inboxes.
  if (!inbox_prefix.empty()) prefix = inbox_prefix + prefix.substr(prefix.find('.'));
  auto* table = new Table;
  natsSubscription* sub = nullptr;
  s = natsConnection_Subscribe(&sub, nc, (prefix + "*").c_str(), &NatsReplies::OnReply, table);
  if (s != NATS_OK) {
    delete table;
    return MakeError(ErrorCode::kUnavailable, "reply inbox: " + std::string(natsStatus_GetText(s)));
  }
  natsSubscription_SetOnCompleteCB(sub, &NatsReplies::OnComplete, table);
  // Replies to a burst of requests queue here; none may be dropped as a slow consumer.
  natsSubscription_SetPendingLimits(sub, 1'000'000, 512 * 1024 * 1024);
  return std::unique_ptr<NatsReplies>(new NatsReplies(nc, sub, table, std::move(prefix)));
}

NatsReplies::NatsReplies(natsConnection* nc, natsSubscription* sub, Table* table,
                         std::string prefix)
    : nc_(nc), sub_(sub), table_(table), prefix_(std::move(prefix)) {
  expirer_ = std::thread([this] { ExpireLoop(); });
}

NatsReplies::~NatsReplies() {
  {
    std::lock_guard lock(table_->mu);
    stop_ = true;
    table_->active = false;
    table_->pending.clear();
    table_->deadlines.clear();
  }
  table_->wake.notify_all();
  expirer_.join();
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);  // the on-complete callback deletes table_
}

void NatsReplies::Send(std::string_view subject, std::string_view data, Duration timeout,
                       Callback done) {
  uint64_t id = 0;
  {
    std::lock_guard lock(table_->mu);
    id = table_->next++;
    auto deadline = table_->deadlines.emplace(Clock::now() + timeout, id);
    table_->pending.emplace(id, Pending{std::move(done), deadline});
    // The expirer sleeps until the earliest deadline; a new earliest one must wake it.
    if (deadline == table_->deadlines.begin()) table_->wake.notify_one();
  }
  const std::string reply = prefix_ + std::to_string(id);
  natsStatus s = natsConnection_PublishRequest(nc_, std::string(subject).c_str(), reply.c_str(),
                                               data.data(), static_cast<int>(data.size()));
  if (s == NATS_OK) return;
  Callback failed;
  {
    std::lock_guard lock(table_->mu);
    failed = table_->Take(id);
  }
  if (failed) failed(RequestError(subject, s));
}

void NatsReplies::OnReply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* table = static_cast<Table*>(closure);
  std::string_view subject = natsMsg_GetSubject(msg);
  uint64_t id = 0;
  const auto dot = subject.rfind('.');
  const char* first = subject.data() + (dot == std::string_view::npos ? 0 : dot + 1);
  const auto [end, ec] = std::from_chars(first, subject.data() + subject.size(), id);
  Callback done;
  if (ec == std::errc() && end == subject.data() + subject.size()) {
    std::lock_guard lock(table->mu);
    if (table->active) done = table->Take(id);
  }
  if (done) {
    if (natsMsg_IsNoResponders(msg)) {
      done(MakeError(ErrorCode::kNoResponders, "request: no responders available for request"));
    } else {
      done(std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    }
  }
  natsMsg_Destroy(msg);
}

void NatsReplies::OnComplete(void* closure) { delete static_cast<Table*>(closure); }

void NatsReplies::ExpireLoop() {
  std::unique_lock lock(table_->mu);
  while (!stop_) {
    if (table_->deadlines.empty()) {
      table_->wake.wait(lock);
      continue;
    }
    const auto first = table_->deadlines.begin()->first;
    if (Clock::now() < first) {
      table_->wake.wait_until(lock, first);
      continue;
    }
    std::vector<Callback> expired;
    const auto now = Clock::now();
    while (!table_->deadlines.empty() && table_->deadlines.begin()->first <= now) {
      expired.push_back(table_->Take(table_->deadlines.begin()->second));
    }
    lock.unlock();
    for (auto& done : expired) done(MakeError(ErrorCode::kTimeout, "request: timeout"));
    lock.lock();
  }
}

}  // namespace autovibe
