// X-Autovibe-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", as
// Stripe signs its webhooks. The timestamp is signed with the body, so a receiver that checks
// it is recent refuses a replayed request; v1 names the scheme, so another can follow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

inline constexpr std::string_view kSignatureHeader = "X-Autovibe-Signature";
inline constexpr std::string_view kEventHeader = "X-Autovibe-Event";
inline constexpr std::string_view kDeliveryHeader = "X-Autovibe-Delivery";

// Lower-case hex of HMAC-SHA256(secret, "<unix_s>.<body>").
std::string WebhookHmac(std::string_view secret, int64_t unix_s, std::string_view body);
// The header's value: "t=<unix_s>,v1=<WebhookHmac>".
std::string WebhookSignature(std::string_view secret, int64_t unix_s, std::string_view body);

// What a receiver does: parses `header`, compares the HMAC in constant time, and refuses a
// timestamp more than `tolerance_s` away from `now_s`. Codes: bad_request (no t= or v1=),
// unauthorized (the HMAC differs, or the timestamp is too old or too new).
Result<void> VerifyWebhookSignature(std::string_view header, std::string_view secret,
                                    std::string_view body, int64_t now_s,
                                    int64_t tolerance_s = 300);

}  // namespace autovibe
