// Projects, tasks and log chunks as the API shows them (DESIGN.md, "Controller HTTP API").
#pragma once

#include <boost/json/object.hpp>
#include <map>

#include "controller/fleet/fleet.h"
#include "controller/model/task.h"

namespace autovibe {

boost::json::object ProjectToJson(const ProjectRecord& p, const std::map<TaskState, int>& counts);
// `fleet` names the machine; may be null.
boost::json::object TaskToJson(const TaskRecord& t, const Fleet* fleet);
boost::json::object LogChunkToJson(const TaskLogChunk& c);
// {"state","machine_id","machine_name","attempts"}: what a follower sees change.
boost::json::object TaskStateToJson(const TaskRecord& t, const Fleet* fleet);

}  // namespace autovibe
