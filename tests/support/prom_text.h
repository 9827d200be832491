// Test support: reading Prometheus text exposition back, as a scraper would, to check what
// /metrics says (and that every line is well-formed).
#pragma once

#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped
  double value = 0;
};

struct PromText {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram
  std::vector<std::string> errors;           // lines that are not well-formed, with why

  // The value of the first sample named `name` whose labels include `labels`; nullopt if none.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const PromSample& s : samples) {
      if (Matches(s, name, labels)) return s.value;
    }
    return std::nullopt;
  }
  // The sum over every sample named `name` whose labels include `labels` (0 if none).
  double Sum(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    double sum = 0;
    for (const PromSample& s : samples) {
      if (Matches(s, name, labels)) sum += s.value;
    }
    return sum;
  }
  static bool Matches(const PromSample& s, const std::string& name,
                      const std::map<std::string, std::string>& labels) {
    if (s.name != name) return false;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) return false;
    }
    return true;
  }
  // Every name a query may use: each family, and a histogram's _bucket, _sum and _count.
  std::set<std::string> Names() const {
    std::set<std::string> out;
    for (const auto& [name, type] : types) {
      out.insert(name);
      if (type == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(name + suffix);
      }
    }
    for (const PromSample& s : samples) out.insert(s.name);
    return out;
  }
};

inline bool PromNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Parses one sample line; false (and `why`) when it is not well-formed.
inline bool ParsePromLine(std::string_view line, PromSample& s, std::string& why) {
  size_t i = 0;
  while (i < line.size() && PromNameChar(line[i], i == 0)) ++i;
  if (i == 0) return why = "no metric name", false;
  s.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      while (i < line.size() && PromNameChar(line[i], i == start)) ++i;
      std::string key(line.substr(start, i - start));
      if (key.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return why = "bad label", false;
      }
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (++i >= line.size()) return why = "escape at the end", false;
          char c = line[i];
          if (c == 'n') {
            value += '\n';
          } else if (c == '\\' || c == '"') {
            value += c;
          } else {
            return why = "unknown escape", false;
          }
        } else {
          value += line[i];
        }
        ++i;
      }
      if (i >= line.size()) return why = "unterminated label value", false;
      ++i;  // the closing quote
      if (s.labels.contains(key)) return why = "label twice", false;
      s.labels[key] = value;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return why = "unterminated labels", false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return why = "no space before the value", false;
  const std::string value(line.substr(i + 1));
  if (value == "+Inf" || value == "-Inf" || value == "NaN") {
    s.value = value == "NaN" ? 0 : (value[0] == '+' ? 1e308 : -1e308);
    return true;
  }
  char* end = nullptr;
  s.value = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size()) return why = "bad value", false;
  return true;
}

inline PromText ParsePromText(std::string_view text) {
  PromText out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    if (line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      size_t sp = rest.find(' ');
      out.types[std::string(rest.substr(0, sp))] =
          sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      continue;
    }
    if (line.starts_with("#")) continue;
    PromSample s;
    std::string why;
    if (!ParsePromLine(line, s, why)) {
      out.errors.push_back(std::string(line) + ": " + why);
      continue;
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace autovibe::testing
