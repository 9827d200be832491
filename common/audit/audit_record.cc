#include "common/audit/audit_record.h"

#include <boost/json.hpp>

namespace autovibe {

std::string ControllerActor(std::string_view rule) { return "controller:" + std::string(rule); }

std::string DetailsJson(std::initializer_list<std::pair<std::string_view, std::string_view>> f) {
  boost::json::object o;
  for (const auto& [k, v] : f) o[k] = v;
  return boost::json::serialize(o);
}

}  // namespace autovibe
