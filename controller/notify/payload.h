// The body a webhook receives for a notification.
//
// json:  {"id": delivery id, "kind", "project" (null for none), "object": {"type", "id"},
//         "time" (RFC 3339), "text", "details": {...what the kind carries}}
// slack: {"text", "blocks": [a section with the text, a context line with kind, project and
//         time]}: what a Slack incoming webhook takes.
#pragma once

#include <string>

#include "controller/model/webhook.h"
#include "controller/notify/notification.h"

namespace autovibe {

std::string DeliveryBody(WebhookFormat format, const Notification& n,
                         const std::string& delivery_id);

}  // namespace autovibe
