// How a task's spec and report are kept in the tasks table (JSON text columns). This is the
// store's own encoding, apart from the API's JSON (api/task_spec_json.h), so either can change
// without the other; the keys are the ones written since the first schema.
#pragma once

#include <string>
#include <string_view>

#include "common/core/result.h"
#include "controller/model/task.h"

namespace autovibe {

std::string EncodeTaskSpec(const TaskSpec& spec);
// Code "store" when the text is not a spec this store wrote (damaged by hand).
Result<TaskSpec> DecodeTaskSpec(std::string_view text);

std::string EncodeTaskReport(const TaskReport& report);
// What can be read of it; a damaged report reads as empty.
TaskReport DecodeTaskReport(std::string_view text);

// A project's repository default; "" for none (and back).
std::string EncodeTaskRepo(const TaskRepo& repo);
TaskRepo DecodeTaskRepo(std::string_view text);

}  // namespace autovibe
