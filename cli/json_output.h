// Reading the controller's JSON leniently and printing it for `--json`.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace autovibe::cli {

// Prints `value` as indented JSON (two spaces) followed by a newline.
void PrintJson(std::ostream& out, const boost::json::value& value);

// Field readers that tolerate a missing field or a field of another type: a machine from a
// newer or older controller still prints.
std::string StringField(const boost::json::object& obj, std::string_view key);
std::optional<double> NumberField(const boost::json::object& obj, std::string_view key);
const boost::json::object& ObjectField(const boost::json::object& obj, std::string_view key);

// {"gpu":"a100","pool":"local"} -> "gpu=a100,pool=local"; ["claude","aider"] -> "claude,aider".
// Non-string values are written as JSON.
std::string FormatLabels(const boost::json::value& labels);
std::string FormatList(const boost::json::value& items);

// A scalar as people read it: strings without quotes, numbers and booleans as JSON.
std::string FormatScalar(const boost::json::value& value);

}  // namespace autovibe::cli
