// Prometheus text exposition (format 0.0.4): metric families with HELP and TYPE lines, samples
// with escaped label values, histograms. What /metrics of the controller and the agent write.
//
// Label values may hold anything a user typed (a project's or a machine's name): they are
// escaped as the format says (\ as \\, " as \", a newline as \n), so no value can end its
// label, its line or its sample.
#pragma once

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/core/histogram.h"

namespace autovibe {

struct MetricLabel {
  std::string_view name;   // [a-zA-Z_][a-zA-Z0-9_]*: ours, never a user's
  std::string_view value;  // anything; escaped
};
using MetricLabels = std::initializer_list<MetricLabel>;

// \ -> \\, " -> \", newline -> \n.
std::string EscapeLabelValue(std::string_view value);
// \ -> \\, newline -> \n (HELP text).
std::string EscapeHelp(std::string_view text);
// `a="x",b="y"`, values escaped, without the braces; "" for none.
std::string RenderLabels(MetricLabels labels);
// A sample's value: whole numbers without a fraction, NaN, +Inf, -Inf, else the shortest text
// that reads back as the same double.
std::string SampleValue(double value);

class MetricsText {
 public:
  // Starts a family: its HELP and TYPE ("counter", "gauge", "histogram") lines. Its samples
  // follow; a family may have none.
  void Family(std::string_view name, std::string_view type, std::string_view help);

  template <class T>
  requires std::is_arithmetic_v<T>
  void Sample(std::string_view name, MetricLabels labels, T value) {
    if constexpr (std::integral<T>) {
      Line(name, labels, std::to_string(value));
    } else {
      Line(name, labels, SampleValue(static_cast<double>(value)));
    }
  }
  template <class T>
  requires std::is_arithmetic_v<T>
  void Sample(std::string_view name, T value) { Sample(name, {}, value); }
  void Histogram(std::string_view name, MetricLabels labels, const autovibe::Histogram& h);

  std::string& text() { return out_; }

 private:
  void Line(std::string_view name, MetricLabels labels, const std::string& value);

  std::string out_;
};

}  // namespace autovibe
