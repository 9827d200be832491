#include "cli/json_output.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <vector>

#include "cli/table.h"

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

}  // namespace autovibe::cli
