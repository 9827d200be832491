#include "controller/notify/webhook_sender.h"

#include <boost/asio/post.hpp>

#include "common/http/client.h"
#include "controller/notify/signature.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr size_t kMaxErrorBody = 200;

// The one attempt, on a sending thread.
std::pair<DeliveryAttempt, AttemptVerdict> Attempt(const WebhookPost& post, const Clock& clock) {
  const int64_t start_ms = clock.NowMs();
  HttpCall call;
  call.method = "POST";
  call.url = post.url;
  call.body = post.body;
  call.timeout = post.timeout;
  call.ca_file = post.ca_file;
  call.headers = {
      {std::string(kSignatureHeader), WebhookSignature(post.secret, start_ms / 1000, post.body)},
      {std::string(kEventHeader), std::string(ToString(post.kind))},
      {std::string(kDeliveryHeader), post.delivery_id},
      {"User-Agent", "autovibe-webhooks/1"}};
  auto reply = SendHttp(call);
  DeliveryAttempt a{.at_ms = start_ms};
  a.duration_ms = clock.NowMs() - start_ms;
  if (!reply) {
    a.error = std::string(ErrorName(reply.error().code)) + ": " + reply.error().message;
    return {std::move(a), JudgeAttempt(0, reply.error().code)};
  }
  a.status = reply->status;
  const AttemptVerdict verdict = JudgeAttempt(reply->status, std::nullopt);
  if (verdict != AttemptVerdict::kDelivered) {
    a.error = "answered " + std::to_string(reply->status);
    if (!reply->body.empty()) a.error += ": " + reply->body.substr(0, kMaxErrorBody);
  }
  return {std::move(a), verdict};
}

}  // namespace

WebhookSender::WebhookSender(asio::io_context& owner, const Clock& clock, size_t threads)
    : owner_(owner), clock_(clock), pool_(threads) {}

WebhookSender::~WebhookSender() { Stop(); }

void WebhookSender::Send(WebhookPost post, Done done) {
  asio::post(pool_, [this, post = std::move(post), done = std::move(done), alive = alive_] {
    if (!*alive) return;
    auto [attempt, verdict] = Attempt(post, clock_);
    asio::post(owner_, [alive, done, attempt = std::move(attempt), verdict = verdict] {
      if (*alive) done(attempt, verdict);
    });
  });
}

void WebhookSender::Stop() {
  if (!*alive_) return;
  *alive_ = false;  // read by the sending threads only before and after an attempt
  pool_.stop();
  pool_.join();
}

}  // namespace autovibe
