// Reading the controller's JSON leniently, and printing an answer: its JSON for `--json`, else
// the human form a command gives.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/command.h"
#include "cli/table.h"

namespace autovibe::cli {

// Prints `value` as indented JSON (two spaces) followed by a newline.
void PrintJson(std::ostream& out, const boost::json::value& value);

// Field readers that tolerate a missing field or a field of another type: a machine from a
// newer or older controller still prints.
std::string StringField(const boost::json::object& obj, std::string_view key);
std::optional<double> NumberField(const boost::json::object& obj, std::string_view key);
// An integral number; nullopt for a missing field, null, a fraction or another type.
std::optional<int64_t> IntField(const boost::json::object& obj, std::string_view key);
const boost::json::object& ObjectField(const boost::json::object& obj, std::string_view key);

// {"gpu":"a100","pool":"local"} -> "gpu=a100,pool=local"; ["claude","aider"] -> "claude,aider".
// Non-string values are written as JSON.
std::string FormatLabels(const boost::json::value& labels);
std::string FormatList(const boost::json::value& items);

// A scalar as people read it: strings without quotes, numbers and booleans as JSON.
std::string FormatScalar(const boost::json::value& value);

// What tables print for a missing or empty value: "-".
std::string OrDash(std::string text);

// An RFC 3339 field as "2026-11-22T01:39:42.123Z (3s ago)", or its age alone ("3s"); "-" when
// missing. An unparseable time is shown as sent.
std::string TimestampField(const boost::json::object& obj, std::string_view key, int64_t now_ms);
std::string AgeField(const boost::json::object& obj, std::string_view key, int64_t now_ms);

// Appends the fields of `obj` not named in `known` as "key: value" lines, so what a newer
// controller adds still shows. `prefix` goes before each key ("report.").
void AppendOtherFields(KeyValues& lines, const boost::json::object& obj,
                       std::initializer_list<std::string_view> known, std::string_view prefix = "");

// The answer to `request` ("GET /v1/tasks/t-1") as an object, or an error saying it is not.
CliResult<const boost::json::object*> ExpectObject(const boost::json::value& body,
                                                   std::string_view request);

// The list `key` of the answer to `request` ({"<key>":[...]}), or an error saying there is none.
CliResult<const boost::json::array*> ExpectList(const boost::json::value& body,
                                                std::string_view key, std::string_view request);

// Prints an answer that is one object: its JSON with --json, else `human(object)`.
using ObjectPrinter = std::function<void(const boost::json::object&)>;
CliStatus PrintObjectAnswer(CommandContext& ctx, const boost::json::value& body,
                            std::string_view request, const ObjectPrinter& human);

// Prints an answer that holds a list {"<key>":[...]}: its JSON with --json, else
// `human(list)`.
using ListPrinter = std::function<void(const boost::json::array&)>;
CliStatus PrintListAnswer(CommandContext& ctx, const boost::json::value& body, std::string_view key,
                          std::string_view request, const ListPrinter& human);

// Calls `method path` and prints the answer like PrintObjectAnswer.
CliStatus CallAndPrint(CommandContext& ctx, std::string_view method, const std::string& path,
                       const ObjectPrinter& human);

// GETs a list {"<key>":[...]} and prints it: its JSON with --json, else `none` ("no tasks")
// for an empty list or `table(items)`.
CliStatus GetAndPrintList(CommandContext& ctx, const std::string& path, std::string_view key,
                          std::string_view none, const ListPrinter& table);

// Prints what a create or submit made: its JSON with --json, else its `id_key` field alone.
CliStatus PrintCreated(CommandContext& ctx, const boost::json::value& body,
                       std::string_view request, std::string_view id_key);

}  // namespace autovibe::cli
