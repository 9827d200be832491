#include "common/core/metrics_text.h"

#include <fmt/format.h>

#include <cmath>

namespace autovibe {

namespace {

// \ -> \\, newline -> \n, and " -> \" when `quotes`.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string EscapeHelp(std::string_view text) { return Escape(text, false); }

std::string RenderLabels(MetricLabels labels) {
  std::string out;
  for (const MetricLabel& l : labels) {
    if (!out.empty()) out += ',';
    out += l.name;
    out += "=\"";
    out += EscapeLabelValue(l.value);
    out += '"';
  }
  return out;
}

std::string SampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

void MetricsText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name, type);
}

void MetricsText::Line(std::string_view name, MetricLabels labels, const std::string& value) {
  out_ += name;
  if (labels.size() > 0) {
    out_ += '{';
    out_ += RenderLabels(labels);
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void MetricsText::Histogram(std::string_view name, MetricLabels labels,
                            const autovibe::Histogram& h) {
  h.Render(name, RenderLabels(labels), out_);
}

}  // namespace autovibe
