// An event as GET /v1/events and `autovibe events --json` show it, and as one Server-Sent
// Event.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "controller/model/event.h"

namespace autovibe {

// {"id","at","kind","project","object","machine","task","data"}: `object` names what the
// event is about (the task, the machine, the checkpoint, the project).
boost::json::object EventJson(const StoredEvent& e);

// "id: N\nevent: KIND\ndata: JSON\n\n".
std::string SseEvent(const StoredEvent& e);

// The last event a dropped follower gets, naming the last id it was sent, to resume from.
std::string SseDropped(int64_t last_id, const std::string& reason);

}  // namespace autovibe
