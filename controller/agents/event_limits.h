// The bounds an agent event must keep before the controller looks at what it says: its size
// for its kind, and the length of every id in it (event, task, lease, checkpoint). An event
// past them is refused with a clear reason ("too_large", "id_too_long"), acknowledged and
// dropped; its id is never stored. Messages past the stream consumer's own cap (1 MiB) never
// get here: the bus drops and counts them ("oversized").
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "autovibe/v1/event.pb.h"
#include "controller/model/refusals.h"

namespace autovibe {

// Event, task, lease and checkpoint ids: agents make ids of a few dozen characters.
inline constexpr size_t kMaxEventIdBytes = 128;

// The event's kind as metrics and logs name it: "task_log", "usage", "checkpoint_created".
std::string_view EventKindName(const v1::AgentEvent& ev);

// Why the event (of `bytes` on the wire) is past its bounds; nothing when it is within them.
std::optional<Refusal> CheckEventLimits(const v1::AgentEvent& ev, size_t bytes);

}  // namespace autovibe
