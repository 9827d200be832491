#include "controller/budgets/alerts.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/core/time.h"
#include "common/http/client.h"

namespace autovibe {

std::string AlertText(const BudgetAlert& a) {
  const std::string what = a.threshold >= kExhaustedThreshold
                               ? std::string("exhausted")
                               : fmt::format("used {}% of", a.threshold);
  return fmt::format("autovibe: project {} {} its {} budget ({}): {} of {}", a.project, what,
                     ToString(a.resource), ToString(a.period), HumanAmount(a.resource, a.spent),
                     HumanAmount(a.resource, a.limit));
}

std::string AlertWebhookJson(const BudgetAlert& a) {
  return boost::json::serialize(boost::json::object{
      {"text", AlertText(a)},
      {"project", a.project},
      {"resource", ToString(a.resource)},
      {"period", ToString(a.period)},
      {"threshold", a.threshold},
      {"spent", PlainAmount(a.resource, a.spent)},
      {"limit", PlainAmount(a.resource, a.limit)},
      {"at", FormatRfc3339(a.at_ms)},
  });
}

WebhookAlertSink::WebhookAlertSink(WebhookOptions options) : options_(std::move(options)) {
  if (options_.url.starts_with("https://")) {
    supported_ = false;
    spdlog::warn(
        "alert_webhook {} uses https, which this controller cannot send yet: budget alerts are "
        "recorded (GET /v1/alerts) and logged but not posted; use an http:// URL (e.g. a local "
        "relay)",
        options_.url);
    return;
  }
  spdlog::info("budget alerts are posted to {}", options_.url);
  thread_ = std::thread([this] { Run(); });
}

WebhookAlertSink::~WebhookAlertSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    if (!queue_.empty()) {
      spdlog::warn("alert webhook stopping with {} alerts not posted", queue_.size());
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookAlertSink::Alert(const BudgetAlert& a) {
  if (!supported_) {
    spdlog::warn("budget alert not posted (https webhooks are not supported): {}", AlertText(a));
    return;
  }
  std::string body = AlertWebhookJson(a);
  if (!options_.after_commit) {
    Enqueue(std::move(body));
    return;
  }
  options_.after_commit([this, body = std::move(body)]() mutable { Enqueue(std::move(body)); });
}

void WebhookAlertSink::Enqueue(std::string body) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      spdlog::warn("alert webhook queue full: dropping the oldest alert");
      queue_.pop_front();
      ++failed_;
    }
    queue_.push_back(std::move(body));
  }
  cv_.notify_one();
}

uint64_t WebhookAlertSink::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

uint64_t WebhookAlertSink::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

void WebhookAlertSink::Run() {
  for (;;) {
    std::string body;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    bool ok = false;
    auto backoff = options_.first_backoff;
    for (int attempt = 0; attempt < options_.attempts && !ok; ++attempt) {
      if (attempt > 0) {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, backoff, [this] { return stop_; })) return;
        backoff *= 2;
      }
      ok = Post(body);
    }
    std::lock_guard lock(mu_);
    if (ok) {
      ++delivered_;
    } else {
      ++failed_;
      spdlog::error("alert webhook gave up after {} attempts: {}", options_.attempts, body);
    }
  }
}

bool WebhookAlertSink::Post(const std::string& body) {
  HttpCall call;
  call.method = "POST";
  call.url = options_.url;
  call.body = body;
  call.timeout = options_.timeout;
  auto reply = SendHttp(call);
  if (!reply) {
    spdlog::warn("alert webhook {}: {}", options_.url, reply.error().message);
    return false;
  }
  if (reply->status < 200 || reply->status >= 300) {
    spdlog::warn("alert webhook {} answered {}", options_.url, reply->status);
    return false;
  }
  return true;
}

void LogAlertSink::Alert(const BudgetAlert& a) {
  spdlog::warn("{}", AlertText(a));
  if (next_ != nullptr) next_->Alert(a);
}

}  // namespace autovibe
