// What a new subscription may be: the checks POST /v1/webhooks runs before anything is stored.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/model/webhook.h"

namespace autovibe {

// A subscription as asked for, before it is checked.
struct WebhookRequest {
  std::string url;
  std::vector<std::string> kinds;
  std::string project;          // optional
  std::string format = "json";  // json | slack
  std::string secret;           // optional: made when empty
  std::string ca_pem;           // optional: the receiver's CA, as PEM
  std::string ca_file;          // optional: a file on the controller's host holding it
};

struct WebhookRules {
  // Plain http:// to hosts other than loopback (config webhook_allow_http).
  bool allow_http = false;
  std::function<bool(std::string_view project)> project_exists;
};

inline constexpr size_t kMaxWebhookUrl = 2048;
inline constexpr size_t kMaxWebhookCaBytes = 64 << 10;

// The subscription `req` asks for, with its secret (made when none was given) and its CA read;
// no id or time yet. Errors (bad_request, saying what is wrong): a URL that is not http(s) or
// too long or carries a user and password, plain http to a host other than loopback (unless
// allowed), no kind or an unknown one, a project that does not exist, an unknown format, a
// secret shorter than 16 or longer than 256 printable characters, a CA that is not PEM
// certificates (or is given twice, or with an http:// URL).
Result<Webhook> MakeWebhook(const WebhookRequest& req, const WebhookRules& rules);

// Whether `host` (as a URL spells it) is this machine: localhost, 127.0.0.0/8, ::1.
bool LoopbackHost(std::string_view host);

}  // namespace autovibe
