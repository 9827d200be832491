#include "controller/notify/webhook_notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "common/core/files.h"
#include "common/core/ids.h"
#include "controller/notify/payload.h"

namespace autovibe {
namespace {

// Keys of events told in this process, so that a record that changes again after its delivery
// left the log (a task's result published minutes later) is not told twice.
constexpr size_t kRememberKeys = 20'000;

}  // namespace

WebhookNotifier::WebhookNotifier(WebhookNotifierDeps deps)
    : d_(std::move(deps)),
      sender_(*d_.ioc, *d_.clock, std::max<size_t>(d_.senders, 1)),
      timer_(*d_.ioc) {}

WebhookNotifier::~WebhookNotifier() {
  Stop();
  *alive_ = false;
}

void WebhookNotifier::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  sender_.Stop();
}

void WebhookNotifier::OpenBatch() {
  if (d_.batch != nullptr) d_.batch->Open();
}

void WebhookNotifier::AfterCommit(std::function<void()> fn) {
  auto guarded = [alive = alive_, fn = std::move(fn)] {
    if (*alive) fn();
  };
  if (d_.batch != nullptr) {
    d_.batch->AfterCommit(std::move(guarded));
  } else {
    guarded();
  }
}

std::string WebhookNotifier::CaFile(const Webhook& w) const {
  return w.ca_pem.empty() ? "" : d_.ca_dir + "/" + w.id + ".pem";
}

Result<void> WebhookNotifier::WriteCa(const Webhook& w) {
  if (w.ca_pem.empty()) return {};
  if (auto r = MakeDirs(d_.ca_dir, 0700); !r) return r.error();
  return WriteFileAtomic(CaFile(w), w.ca_pem, 0600);
}

Result<void> WebhookNotifier::Load() {
  loaded_at_ms_ = d_.clock->NowMs();
  auto hooks = d_.store->LoadWebhooks();
  if (!hooks) return hooks.error();
  for (Webhook& w : *hooks) {
    if (auto r = WriteCa(w); !r) return r.error();
    webhooks_.push_back(std::make_unique<Webhook>(std::move(w)));
  }
  auto pending = d_.store->PendingDeliveries();
  if (!pending) return pending.error();
  if (!pending->empty()) {
    spdlog::info("webhooks: resuming {} deliveries left pending", pending->size());
  }
  for (WebhookDelivery& d : *pending) {
    const int64_t seq = d.seq;
    pending_.emplace(seq, Pending{std::move(d)});
  }
  Pump();
  return {};
}

Result<void> WebhookNotifier::KeepConfigWebhook(const std::string& url) {
  const Webhook* old = Find(kConfigWebhookId);
  if (url.empty()) return old == nullptr ? Result<void>() : Remove(kConfigWebhookId);
  if (old != nullptr && old->url == url) return {};
  Webhook w{.id = std::string(kConfigWebhookId),
            .url = url,
            .kinds = {NotificationKind::kBudgetAlert, NotificationKind::kBudgetExhausted},
            .format = WebhookFormat::kJson,
            .secret = old != nullptr ? old->secret : "whsec_" + NewSecret(32),
            .created_at_ms = d_.clock->NowMs()};
  if (old != nullptr) {
    if (auto r = Remove(kConfigWebhookId); !r) return r;
  }
  if (auto r = d_.store->SaveWebhook(w); !r) return r.error();
  webhooks_.push_back(std::make_unique<Webhook>(std::move(w)));
  spdlog::info("webhooks: budget alerts go to the config's alert_webhook as {}", kConfigWebhookId);
  return {};
}

bool WebhookNotifier::Told(const std::string& key) {
  if (!told_.insert(key).second) return true;
  told_order_.push_back(key);
  if (told_order_.size() > kRememberKeys) {
    told_.erase(told_order_.front());
    told_order_.pop_front();
  }
  return false;
}

void WebhookNotifier::Notify(const Notification& n) {
  if (stopped_ || (n.at_ms != 0 && n.at_ms < loaded_at_ms_) || Told(n.key)) return;
  for (const auto& w : webhooks_) {
    if (!w->Wants(n.kind)) continue;
    // A subscription to one project hears nothing of others, nor of machines (no project).
    if (!w->project.empty() && w->project != n.project) continue;
    if (auto r = Deliver(*w, n); !r) {
      spdlog::error("webhooks: cannot record a {} delivery for {}: {}", ToString(n.kind), w->id,
                    r.error().message);
    }
  }
}

Result<WebhookDelivery> WebhookNotifier::Deliver(const Webhook& w, const Notification& n) {
  const int64_t now = d_.clock->NowMs();
  Notification stamped = n;
  if (stamped.at_ms == 0) stamped.at_ms = now;
  WebhookDelivery d{.id = NewId("dl"),
                    .webhook_id = w.id,
                    .event_key = n.key,
                    .kind = n.kind,
                    .state = DeliveryState::kPending,
                    .next_attempt_at_ms = now,
                    .created_at_ms = now};
  d.body = DeliveryBody(w.format, stamped, d.id);
  OpenBatch();
  auto inserted = d_.store->InsertDelivery(d);
  if (!inserted) return inserted.error();
  if (!*inserted) return d;  // told before
  auto pruned = d_.store->PruneDeliveries(w.id, d_.keep_deliveries);
  if (!pruned) return pruned.error();
  for (const std::string& id : *pruned) Forget(id);
  AfterCommit([this, d] { Queue(d); });
  return d;
}

void WebhookNotifier::Forget(std::string_view delivery_id) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.delivery.id != delivery_id) continue;
    spdlog::warn("webhooks: delivery {} to {} dropped from the log before it was delivered",
                 delivery_id, it->second.delivery.webhook_id);
    pending_.erase(it);  // an attempt under way finds nothing to update when it ends
    return;
  }
}

void WebhookNotifier::Queue(WebhookDelivery d) {
  if (stopped_ || Find(d.webhook_id) == nullptr) return;
  const int64_t seq = d.seq;
  pending_.emplace(seq, Pending{std::move(d)});
  Pump();
}

void WebhookNotifier::Pump() {
  if (stopped_) return;
  const int64_t now = d_.clock->NowMs();
  int64_t next_due = INT64_MAX;
  for (auto& [seq, p] : pending_) {
    if (p.in_flight) continue;
    if (p.delivery.next_attempt_at_ms > now) {
      next_due = std::min(next_due, p.delivery.next_attempt_at_ms);
      continue;
    }
    if (in_flight_ >= std::max<size_t>(d_.senders, 1)) {
      next_due = std::min(next_due, now);
      continue;
    }
    const Webhook* w = Find(p.delivery.webhook_id);
    if (w == nullptr) continue;
    p.in_flight = true;
    ++in_flight_;
    sender_.Send(WebhookPost{.delivery_id = p.delivery.id,
                             .kind = p.delivery.kind,
                             .url = w->url,
                             .body = p.delivery.body,
                             .secret = w->secret,
                             .ca_file = CaFile(*w),
                             .timeout = d_.timeout},
                 [this, seq = seq](DeliveryAttempt a, AttemptVerdict v) {
                   Attempted(seq, std::move(a), v);
                 });
  }
  // A slot that frees up pumps again; otherwise wake when the next delivery is due.
  if (next_due == INT64_MAX || in_flight_ >= std::max<size_t>(d_.senders, 1)) return;
  timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(next_due - now, 1)));
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) Pump();
  });
}

void WebhookNotifier::Attempted(int64_t seq, DeliveryAttempt attempt, AttemptVerdict verdict) {
  --in_flight_;
  auto it = pending_.find(seq);
  if (it == pending_.end()) {  // its webhook was removed, or the log dropped it meanwhile
    Pump();
    return;
  }
  WebhookDelivery& d = it->second.delivery;
  it->second.in_flight = false;
  d.attempts.push_back(std::move(attempt));
  const DeliveryAttempt& a = d.attempts.back();
  const int made = static_cast<int>(d.attempts.size());
  if (verdict == AttemptVerdict::kDelivered) {
    d.state = DeliveryState::kDelivered;
    spdlog::info("webhooks: delivery {} ({}) to {} delivered on attempt {}", d.id, ToString(d.kind),
                 d.webhook_id, made);
  } else if (verdict == AttemptVerdict::kRetry && made < d_.retry.attempts) {
    const auto wait = DeliveryRetryDelay(d_.retry, made);
    d.next_attempt_at_ms = d_.clock->NowMs() + wait.count();
    spdlog::warn("webhooks: delivery {} to {} attempt {} failed ({}); trying again in {} ms", d.id,
                 d.webhook_id, made, a.error, wait.count());
  } else {
    d.state = DeliveryState::kFailed;
    spdlog::error("webhooks: delivery {} ({}) to {} failed after {} attempts: {}", d.id,
                  ToString(d.kind), d.webhook_id, made, a.error);
  }
  OpenBatch();
  if (auto r = d_.store->UpdateDelivery(d); !r) {
    spdlog::error("webhooks: cannot record delivery {}: {}", d.id, r.error().message);
  }
  if (d.state != DeliveryState::kPending) pending_.erase(it);
  Pump();
}

Result<const Webhook*> WebhookNotifier::Add(const WebhookRequest& req) {
  auto made = MakeWebhook(req, d_.rules);
  if (!made) return made.error();
  made->id = NewId("wh");
  made->created_at_ms = d_.clock->NowMs();
  if (auto r = WriteCa(*made); !r) return r.error();
  if (auto r = d_.store->SaveWebhook(*made); !r) return r.error();
  webhooks_.push_back(std::make_unique<Webhook>(std::move(*made)));
  const Webhook* w = webhooks_.back().get();
  spdlog::info("webhooks: {} added for {} events of {}", w->id, w->kinds.size(),
               w->project.empty() ? "every project" : "project " + w->project);
  return w;
}

Result<void> WebhookNotifier::Remove(std::string_view id) {
  auto it =
      std::find_if(webhooks_.begin(), webhooks_.end(), [&](const auto& w) { return w->id == id; });
  if (it == webhooks_.end()) {
    return MakeError(ErrorCode::kNotFound, "no webhook " + std::string(id.substr(0, 80)));
  }
  if (auto r = d_.store->DeleteWebhook(id); !r) return r.error();
  std::error_code ec;
  if (!(*it)->ca_pem.empty()) std::filesystem::remove(CaFile(**it), ec);
  std::erase_if(pending_, [&](const auto& p) { return p.second.delivery.webhook_id == id; });
  webhooks_.erase(it);
  spdlog::info("webhooks: {} removed", id);
  return {};
}

const Webhook* WebhookNotifier::Find(std::string_view id) const {
  for (const auto& w : webhooks_) {
    if (w->id == id) return w.get();
  }
  return nullptr;
}

std::vector<const Webhook*> WebhookNotifier::List() const {
  std::vector<const Webhook*> out;
  for (const auto& w : webhooks_) out.push_back(w.get());
  return out;
}

Result<std::vector<WebhookDelivery>> WebhookNotifier::Deliveries(std::string_view id,
                                                                 size_t limit) {
  if (Find(id) == nullptr) {
    return MakeError(ErrorCode::kNotFound, "no webhook " + std::string(id.substr(0, 80)));
  }
  return d_.store->Deliveries(id, limit);
}

Result<WebhookDelivery> WebhookNotifier::SendTest(std::string_view id) {
  const Webhook* w = Find(id);
  if (w == nullptr) {
    return MakeError(ErrorCode::kNotFound, "no webhook " + std::string(id.substr(0, 80)));
  }
  return Deliver(*w, TestNotification(w->id, w->project));
}

}  // namespace autovibe
