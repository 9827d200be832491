// Prometheus text as /metrics writes it: escaping of label values a user typed, histograms,
// sample values; and the budget families with a hostile project name, read back as a scraper
// reads them.
#include "common/core/metrics_text.h"

#include <catch2/catch.hpp>

#include "controller/metrics/controller_metrics.h"
#include "tests/support/prom_text.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

// Quotes, backslashes, newlines, a fake label and a fake sample line.
const std::string kHostile = "evil\"} 1\nautovibe_fake{x=\"y\\\\\"} 99\n\\\"";

}  // namespace

TEST_CASE("label values are escaped as the exposition format says") {
  CHECK(EscapeLabelValue("plain") == "plain");
  CHECK(EscapeLabelValue("a\"b") == "a\\\"b");
  CHECK(EscapeLabelValue("a\\b") == "a\\\\b");
  CHECK(EscapeLabelValue("a\nb") == "a\\nb");
  CHECK(EscapeHelp("line\none \\ \"q\"") == "line\\none \\\\ \"q\"");
  MetricsText out;
  out.Family("x_total", "counter", "Help with a\nnewline.");
  out.Sample("x_total", {{"project", "a\"b\\c\nd"}, {"resource", "usd"}}, uint64_t{3});
  CHECK(out.text() ==
        "# HELP x_total Help with a\\nnewline.\n# TYPE x_total counter\n"
        "x_total{project=\"a\\\"b\\\\c\\nd\",resource=\"usd\"} 3\n");
}

TEST_CASE("a hostile label value is one label of one sample, read back as it was") {
  MetricsText out;
  out.Family("autovibe_project_spent_total", "counter", "x");
  out.Sample("autovibe_project_spent_total", {{"project", kHostile}, {"resource", "usd"}}, 1.5);
  const PromText read = ParsePromText(out.text());
  CHECK(read.errors.empty());
  REQUIRE(read.samples.size() == 1);
  CHECK(read.samples[0].name == "autovibe_project_spent_total");
  CHECK(read.samples[0].labels.at("project") == kHostile);
  CHECK(read.samples[0].value == 1.5);
  CHECK(!read.Value("autovibe_fake"));
}

TEST_CASE("sample values: whole numbers plainly, fractions exactly, and the special ones") {
  CHECK(SampleValue(0) == "0");
  CHECK(SampleValue(5) == "5");
  CHECK(SampleValue(-2) == "-2");
  CHECK(SampleValue(0.25) == "0.25");
  CHECK(SampleValue(0.000123) == "0.000123");
  CHECK(SampleValue(1e20) == "1e+20");
  CHECK(SampleValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(SampleValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(SampleValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  MetricsText out;
  out.Sample("big", uint64_t{18'446'744'073'709'551'615u});
  CHECK(out.text() == "big 18446744073709551615\n");
}

TEST_CASE("a histogram has cumulative buckets, +Inf, sum and count, after its labels") {
  DurationHistogram h;
  h.Observe(0.005);  // <= 0.01
  h.Observe(0.3);    // <= 0.5
  h.Observe(20000);  // past the last bound: only +Inf
  MetricsText out;
  out.Histogram("spawn_seconds", {{"backend", "lo\"cal"}}, h);
  const PromText read = ParsePromText(out.text());
  CHECK(read.errors.empty());
  const std::map<std::string, std::string> local{{"backend", "lo\"cal"}};
  auto bucket = [&](const std::string& le) {
    auto labels = local;
    labels["le"] = le;
    return read.Value("spawn_seconds_bucket", labels);
  };
  CHECK(bucket("0.01") == 1);
  CHECK(bucket("0.25") == 1);
  CHECK(bucket("0.5") == 2);
  CHECK(bucket("14400") == 2);
  CHECK(bucket("+Inf") == 3);
  CHECK_THAT(out.text(),
             Catch::Contains("spawn_seconds_bucket{backend=\"lo\\\"cal\",le=\"+Inf\"} 3\n"));
  CHECK(read.Value("spawn_seconds_count", local) == 3);
  CHECK(read.Value("spawn_seconds_sum", local) == Approx(20000.305));
  // Without labels: no empty braces.
  MetricsText bare;
  bare.Histogram("lat_seconds", {}, LatencyHistogram());
  CHECK_THAT(bare.text(), Catch::Contains("lat_seconds_bucket{le=\"0.0005\"} 0\n") &&
                              Catch::Contains("lat_seconds_sum 0\nlat_seconds_count 0\n"));
}

TEST_CASE("budget metrics of a project with a hostile name stay well-formed") {
  BudgetFixture f;
  f.AddProject(kHostile);
  f.Reload();
  REQUIRE(f.SetUsd(Usd(5), BudgetPeriod::kTotal, {75, 90}, kHostile));
  REQUIRE(f.SetUsd(Usd(2), BudgetPeriod::kDay));
  FakeAlerts sink;
  AlertCounter alerts(sink);
  alerts.Alert({.project = kHostile, .resource = BudgetResource::kUsd, .threshold = 75});
  MetricsText out;
  RenderBudgetMetrics(*f.book, &alerts, out);
  const PromText read = ParsePromText(out.text());
  CHECK(read.errors.empty());
  CHECK(read.Value("autovibe_budget_limit",
                   {{"project", kHostile}, {"resource", "usd"}, {"period", "total"}}) == 5);
  CHECK(read.Value("autovibe_budget_limit",
                   {{"project", "demo"}, {"resource", "usd"}, {"period", "day"}}) == 2);
  CHECK(read.Value("autovibe_budget_spent", {{"project", kHostile}}) == 0);
  CHECK(read.Value("autovibe_budget_alerts_total",
                   {{"project", kHostile}, {"resource", "usd"}, {"threshold", "75"}}) == 1);
  CHECK(sink.alerts.size() == 1);  // passed on
  CHECK(read.Value("autovibe_leases_outstanding") == 0);
  // Nothing the name holds became a sample of its own.
  for (const PromSample& s : read.samples) CHECK(s.name.starts_with("autovibe_"));
  CHECK(!read.Value("autovibe_fake"));
}

TEST_CASE("budget figures are in base units: dollars and seconds") {
  CHECK(MetricAmount(BudgetResource::kUsd, 1'500'000) == 1.5);
  CHECK(MetricAmount(BudgetResource::kTaskSeconds, 2'500) == 2.5);
  CHECK(MetricAmount(BudgetResource::kMachineSeconds, 1'000) == 1);
  CHECK(MetricAmount(BudgetResource::kTokens, 1234) == 1234);
  CHECK(MetricAmount(BudgetResource::kApiCalls, 7) == 7);
}
