// The JSON bodies of the task and budget routes (controller/api): a task submission's spec
// (task_spec_json), a repository (TaskRepoFromJson) and a project's budgets (budget_json),
// parsed as the API parses them and, when accepted, written back as the API shows them.
// The first byte picks the parser; the rest is the body.
#include <boost/json.hpp>

#include "controller/api/budget_json.h"
#include "controller/api/task_spec_json.h"
#include "tests/fuzz/fuzz_target.h"

using namespace autovibe;

AV_FUZZ_TARGET(api_json) {
  fuzz::Input in(data, size);
  const size_t which = in.Pick(4);
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(in.Rest(), ec);
  if (ec) return;
  if (which == 3) {
    (void)ParseUsageGroupBy(body.is_string() ? std::string_view(body.as_string()) : "");
    return;
  }
  if (which == 2) {
    if (auto repo = TaskRepoFromJson(body)) (void)boost::json::serialize(TaskRepoToJson(*repo));
    return;
  }
  if (!body.is_object()) return;
  if (which == 0) {
    if (auto spec = TaskSpecFromJson(body.as_object())) {
      (void)boost::json::serialize(TaskSpecToJson(*spec));
    }
  } else if (auto budgets = BudgetsFromJson(body.as_object())) {
    (void)boost::json::serialize(BudgetsToJson("demo", *budgets));
  }
}
