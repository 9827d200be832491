#include "controller/notify/payload.h"

#include <boost/json.hpp>

#include "common/core/time.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// Slack reads &, < and > as markup (links, mentions): escaped, a name cannot ping anyone.
std::string SlackEscaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string SlackBody(const Notification& n) {
  const std::string text = SlackEscaped(n.text);
  std::string context = "`" + std::string(ToString(n.kind)) + "`";
  if (!n.project.empty()) context += " · project " + SlackEscaped(n.project);
  context += " · " + FormatRfc3339(n.at_ms);
  json::object section{{"type", "section"},
                       {"text", json::object{{"type", "mrkdwn"}, {"text", text}}}};
  json::object footer{
      {"type", "context"},
      {"elements", json::array{json::object{{"type", "mrkdwn"}, {"text", context}}}}};
  return json::serialize(
      json::object{{"text", text}, {"blocks", json::array{std::move(section), std::move(footer)}}});
}

}  // namespace

std::string DeliveryBody(WebhookFormat format, const Notification& n,
                         const std::string& delivery_id) {
  if (format == WebhookFormat::kSlack) return SlackBody(n);
  return json::serialize(
      json::object{{"id", delivery_id},
                   {"kind", ToString(n.kind)},
                   {"project", n.project.empty() ? json::value(nullptr) : json::value(n.project)},
                   {"object", json::object{{"type", n.object_type}, {"id", n.object_id}}},
                   {"time", FormatRfc3339(n.at_ms)},
                   {"text", n.text},
                   {"details", n.details}});
}

}  // namespace autovibe
