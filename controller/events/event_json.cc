#include "controller/events/event_json.h"

#include <boost/json.hpp>

#include "common/core/time.h"

namespace autovibe {

namespace json = boost::json;

json::object EventJson(const StoredEvent& e) {
  json::object data;
  boost::system::error_code ec;
  if (json::value parsed = json::parse(e.detail_json, ec); !ec && parsed.is_object()) {
    data = std::move(parsed.as_object());
  }
  // What the event is about: named by its data (a checkpoint), else its task, its machine,
  // its project.
  std::string object;
  if (const json::value* o = data.if_contains("object"); o != nullptr && o->is_string()) {
    object = o->as_string();
  }
  for (const std::string* next : {&e.task_id, &e.machine_id, &e.project}) {
    if (object.empty()) object = *next;
  }
  return {{"id", e.seq},       {"at", FormatRfc3339(e.at_ms)},
          {"kind", e.kind},    {"project", e.project},
          {"object", object},  {"machine", e.machine_id},
          {"task", e.task_id}, {"data", std::move(data)}};
}

std::string SseEvent(const StoredEvent& e) {
  // Kinds are ours ([a-z0-9_.]); the data is one line of JSON.
  return "id: " + std::to_string(e.seq) + "\nevent: " + e.kind +
         "\ndata: " + json::serialize(EventJson(e)) + "\n\n";
}

std::string SseDropped(int64_t last_id, const std::string& reason) {
  return "event: dropped\ndata: " +
         json::serialize(json::object{{"reason", reason}, {"last_id", last_id}}) + "\n\n";
}

}  // namespace autovibe
