// The JSON shape of a machine in the API (DESIGN.md, "Controller HTTP API").
#pragma once

#include <boost/json/object.hpp>

#include "controller/model/machine.h"

namespace autovibe {

boost::json::object MachineToJson(const MachineRecord& m);

}  // namespace autovibe
