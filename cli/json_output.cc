#include "cli/json_output.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <vector>

#include "cli/client.h"
#include "cli/table.h"
#include "common/core/time.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// Like json::serialize, but a double is written in its shortest round-trip form: Boost.JSON
// writes 0.42 as 4.2E-1, which is valid but reads badly.
std::string SerializeScalar(const json::value& value) {
  if (!value.is_double() || !std::isfinite(value.get_double())) return json::serialize(value);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value.get_double());
  return std::string(buf, end);
}

void PrintIndented(std::ostream& out, const json::value& value, int depth) {
  const std::string inner(static_cast<size_t>(depth + 1) * 2, ' ');
  const std::string outer(static_cast<size_t>(depth) * 2, ' ');
  if (const auto* obj = value.if_object(); obj && !obj->empty()) {
    out << "{\n";
    size_t i = 0;
    for (const auto& kv : *obj) {
      out << inner << json::serialize(json::string_view(kv.key())) << ": ";
      PrintIndented(out, kv.value(), depth + 1);
      out << (++i < obj->size() ? ",\n" : "\n");
    }
    out << outer << '}';
  } else if (const auto* arr = value.if_array(); arr && !arr->empty()) {
    out << "[\n";
    for (size_t i = 0; i < arr->size(); ++i) {
      out << inner;
      PrintIndented(out, (*arr)[i], depth + 1);
      out << (i + 1 < arr->size() ? ",\n" : "\n");
    }
    out << outer << ']';
  } else {
    out << SerializeScalar(value);
  }
}

}  // namespace

void PrintJson(std::ostream& out, const json::value& value) {
  PrintIndented(out, value, 0);
  out << '\n';
}

std::string StringField(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  return FormatScalar(*v);
}

std::optional<double> NumberField(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::optional<int64_t> IntField(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  const auto n = v->to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

const json::object& ObjectField(const json::object& obj, std::string_view key) {
  static const json::object kEmpty;
  const auto* v = obj.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : kEmpty;
}

std::string FormatLabels(const json::value& labels) {
  const auto* obj = labels.if_object();
  if (obj == nullptr) return FormatScalar(labels);
  std::vector<std::string> parts;
  for (const auto& kv : *obj)
    parts.push_back(std::string(kv.key()) + "=" + FormatScalar(kv.value()));
  return Join(parts);
}

std::string FormatList(const json::value& items) {
  const auto* arr = items.if_array();
  if (arr == nullptr) return FormatScalar(items);
  std::vector<std::string> parts;
  for (const auto& item : *arr) parts.push_back(FormatScalar(item));
  return Join(parts);
}

std::string FormatScalar(const json::value& value) {
  if (const auto* s = value.if_string()) return std::string(*s);
  if (value.is_null()) return "";
  if (value.is_object() || value.is_array()) return json::serialize(value);
  return SerializeScalar(value);
}

std::string OrDash(std::string text) { return text.empty() ? std::string("-") : std::move(text); }

std::string TimestampField(const json::object& obj, std::string_view key, int64_t now_ms) {
  const std::string text = StringField(obj, key);
  const auto ms = ParseRfc3339Ms(text);
  return ms ? text + " (" + FormatAgo(*ms, now_ms) + ")" : OrDash(text);
}

std::string AgeField(const json::object& obj, std::string_view key, int64_t now_ms) {
  const auto ms = ParseRfc3339Ms(StringField(obj, key));
  return ms ? FormatAge(*ms, now_ms) : "-";
}

void AppendOtherFields(KeyValues& lines, const json::object& obj,
                       std::initializer_list<std::string_view> known, std::string_view prefix) {
  for (const auto& kv : obj) {
    if (std::find(known.begin(), known.end(), kv.key()) != known.end()) continue;
    lines.emplace_back(std::string(prefix) + std::string(kv.key()),
                       OrDash(FormatScalar(kv.value())));
  }
}

CliResult<const json::object*> ExpectObject(const json::value& body, std::string_view request) {
  if (!body.is_object()) {
    return CliError{kExitFailure, "unexpected answer from the controller to " +
                                      std::string(request) + ": not a JSON object"};
  }
  return &body.get_object();
}

CliResult<const json::array*> ExpectList(const json::value& body, std::string_view key,
                                         std::string_view request) {
  const json::value* list = body.is_object() ? body.get_object().if_contains(key) : nullptr;
  if (list == nullptr || !list->is_array()) {
    return CliError{kExitFailure, "unexpected answer from the controller to " +
                                      std::string(request) + ": no \"" + std::string(key) +
                                      "\" list"};
  }
  return &list->get_array();
}

CliStatus PrintObjectAnswer(CommandContext& ctx, const json::value& body, std::string_view request,
                            const ObjectPrinter& human) {
  if (ctx.options.json) {
    PrintJson(ctx.out, body);
    return {};
  }
  auto obj = ExpectObject(body, request);
  if (!obj) return obj.error();
  human(**obj);
  return {};
}

CliStatus PrintListAnswer(CommandContext& ctx, const json::value& body, std::string_view key,
                          std::string_view request, const ListPrinter& human) {
  if (ctx.options.json) {
    PrintJson(ctx.out, body);
    return {};
  }
  auto list = ExpectList(body, key, request);
  if (!list) return list.error();
  human(**list);
  return {};
}

CliStatus CallAndPrint(CommandContext& ctx, std::string_view method, const std::string& path,
                       const ObjectPrinter& human) {
  auto body = ctx.client.Call(method, path);
  if (!body) return body.error();
  return PrintObjectAnswer(ctx, *body, std::string(method) + " " + path, human);
}

CliStatus GetAndPrintList(CommandContext& ctx, const std::string& path, std::string_view key,
                          std::string_view none, const ListPrinter& table) {
  auto body = ctx.client.Call("GET", path);
  if (!body) return body.error();
  return PrintListAnswer(ctx, *body, key, "GET " + path, [&](const json::array& items) {
    if (items.empty()) {
      ctx.out << none << '\n';
    } else {
      table(items);
    }
  });
}

CliStatus PrintCreated(CommandContext& ctx, const json::value& body, std::string_view request,
                       std::string_view id_key) {
  return PrintObjectAnswer(ctx, body, request, [&](const json::object& obj) {
    ctx.out << OrDash(StringField(obj, id_key)) << '\n';
  });
}

}  // namespace autovibe::cli
