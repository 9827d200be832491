// Task specs and reports as the API takes and shows them (the store keeps its own encoding,
// store/task_codec.h).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/budget/amounts.h"  // FormatUsd
#include "common/core/result.h"
#include "controller/model/task.h"

namespace autovibe {

inline constexpr uint32_t kMaxTaskTimeoutS = 7 * 24 * 3600;
inline constexpr uint32_t kMaxTaskAttempts = 10;

// The tools a task may name.
bool KnownTool(std::string_view tool);

// Parses the task fields of a submission (everything but "project"). Errors have code
// "bad_request" and say which field is wrong; unknown fields are refused.
Result<TaskSpec> TaskSpecFromJson(const boost::json::object& o);
boost::json::object TaskSpecToJson(const TaskSpec& spec);

boost::json::object TaskReportToJson(const TaskReport& r);

// A repository as a task or project names it: {"url", "ref", "secret", "branch", "publish",
// "review", "publish_on", "forge_api", "forge_secret"}. Errors: bad_request, saying which field.
Result<TaskRepo> TaskRepoFromJson(const boost::json::value& v);
boost::json::object TaskRepoToJson(const TaskRepo& r);
boost::json::object TaskChangeToJson(const TaskChange& c);

}  // namespace autovibe
