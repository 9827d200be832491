// The JSON shape of a machine in the API (DESIGN.md, "Controller HTTP API").
#pragma once

#include <boost/json/object.hpp>

#include "controller/store/machine_record.h"

namespace autovibe {

boost::json::object MachineToJson(const MachineRecord& m);

}  // namespace autovibe
