// /metrics rendering, read back by a checker of the exposition format; and
// the metadata table held against the stats the server really reports.
#include "http/metrics.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "http/json.hpp"
#include "testing/http_wire.hpp"

namespace katsubushi::http {
namespace {

using testing::check_exposition;

std::string render(const service::StatList& stats) {
  std::string out;
  append_metrics(out, stats);
  return out;
}

// A stat list shaped like the server's, every value of the kind it has there.
service::StatList server_like_stats() {
  service::StatList stats;
  for (const MetricInfo& m : metric_table()) {
    std::string value = "12";
    if (m.stat == "version") value = "0.1.0";
    if (m.stat == "lease_state") value = "static";
    if (m.stat.starts_with("rusage_")) value = "0.123456";
    if (m.stat == "clock_drift_ms") value = "-3";
    stats.emplace_back(m.stat, value);
  }
  return stats;
}

TEST(MetricsTest, EveryStatIsOneValidFamily) {
  const std::string text = render(server_like_stats());
  EXPECT_EQ(check_exposition(text), "") << text;
  EXPECT_NE(text.find("# HELP katsubushi_connections_total "), std::string::npos);
  EXPECT_NE(text.find("# TYPE katsubushi_connections_total counter\n"
                      "katsubushi_connections_total 12\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE katsubushi_curr_connections gauge\nkatsubushi_curr_connections 12\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE katsubushi_build_info gauge\nkatsubushi_build_info{version=\"0.1.0\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("katsubushi_lease_state{state=\"static\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("katsubushi_rusage_user_seconds_total 0.123456\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE katsubushi_clock_drift_seconds gauge\n"
                      "katsubushi_clock_drift_seconds -0.003\n"),
            std::string::npos)
      << text;
  // One family per stat, each with one sample.
  std::size_t samples = 0;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) samples += l.starts_with('#') ? 0u : 1u;
  EXPECT_EQ(samples, metric_table().size());
}

TEST(MetricsTest, EachHeldWorkerIdIsASampleLabelledWithIt) {
  const service::StatList stats{{"worker_id_count", "2"},       {"worker:1:ids_issued", "40"},
                                {"worker:1:state", "serving"},  {"worker_ids_serving", "1"},
                                {"worker:3:ids_issued", "7"},   {"worker:3:state", "no_lease"},
                                {"worker:x:ids_issued", "9"},   {"worker:3:ids_issued", "8"}};
  const std::string text = render(stats);
  EXPECT_EQ(check_exposition(text), "") << text;
  EXPECT_NE(text.find("# TYPE katsubushi_worker_ids_issued_total counter\n"
                      "katsubushi_worker_ids_issued_total{worker_id=\"1\"} 40\n"
                      "katsubushi_worker_ids_issued_total{worker_id=\"3\"} 7\n#"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("katsubushi_worker_state{worker_id=\"3\",state=\"no_lease\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("katsubushi_worker_ids_held 2\n"), std::string::npos) << text;
  ASSERT_NE(find_metric("worker:12:state"), nullptr);
  EXPECT_EQ(find_metric("worker:12:state")->metric, "katsubushi_worker_state");
  EXPECT_EQ(find_metric("worker:12:nothing"), nullptr);
  EXPECT_EQ(text.find("worker_id=\"x\""), std::string::npos) << text;
}

TEST(MetricsTest, TableIsConsistent) {
  std::set<std::string_view> stats;
  std::set<std::string_view> metrics;
  for (const MetricInfo& m : metric_table()) {
    SCOPED_TRACE(m.stat);
    EXPECT_TRUE(stats.insert(m.stat).second) << "stat listed twice";
    EXPECT_TRUE(metrics.insert(m.metric).second) << "metric listed twice";
    EXPECT_TRUE(m.metric.starts_with("katsubushi_"));
    EXPECT_FALSE(m.help.empty());
    EXPECT_EQ(m.help.find('\n'), std::string_view::npos);
    EXPECT_EQ(m.kind == MetricKind::counter, m.metric.ends_with("_total"));
    EXPECT_EQ(m.kind == MetricKind::info, !m.label.empty());
    // Prometheus wants base units and no abbreviations.
    EXPECT_EQ(m.metric.find("_ms"), std::string_view::npos);
    EXPECT_EQ(find_metric(m.stat), &m);
  }
  EXPECT_EQ(find_metric("no_such_stat"), nullptr);
}

TEST(MetricsTest, MillisecondsBecomeExactSeconds) {
  for (const auto& [ms, seconds] : std::vector<std::pair<std::string, std::string>>{
           {"0", "0.000"},
           {"1", "0.001"},
           {"-1", "-0.001"},
           {"1500", "1.500"},
           {"-123456", "-123.456"},
           {"9223372036854775807", "9223372036854775.807"},
           {"-9223372036854775808", "-9223372036854775.808"}}) {
    const std::string text = render({{"clock_drift_ms", ms}});
    EXPECT_EQ(check_exposition(text), "") << text;
    EXPECT_NE(text.find("\nkatsubushi_clock_drift_seconds " + seconds + "\n"), std::string::npos)
        << text;
  }
  // Not an integer: the family is left out rather than guessed.
  EXPECT_EQ(render({{"clock_drift_ms", "1.5"}}), "");
  EXPECT_EQ(render({{"clock_drift_ms", ""}}), "");
}

TEST(MetricsTest, ValuesThatAreNotNumbersAreLeftOut) {
  EXPECT_EQ(render({{"cmd_get", "many"}, {"threads", ""}, {"pid", "12 34"}}), "");
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  const std::string text = render({{"version", "a\"b\\c\nd"}});
  EXPECT_EQ(check_exposition(text), "") << text;
  EXPECT_NE(text.find("katsubushi_build_info{version=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << text;
}

TEST(MetricsTest, UnknownNumericStatsAreUntypedAndOthersDropped) {
  const std::string text = render({{"new_thing", "5"},
                                   {"bad-name", "5"},
                                   {"words", "five"},
                                   {"connections_total", "9"},  // would shadow a table family
                                   {"threads", "2"},
                                   {"threads", "3"}});  // named twice: the first wins
  EXPECT_EQ(check_exposition(text), "") << text;
  EXPECT_EQ(text,
            "# HELP katsubushi_new_thing Stat new_thing of the daemon.\n"
            "# TYPE katsubushi_new_thing untyped\n"
            "katsubushi_new_thing 5\n"
            "# HELP katsubushi_threads Threads serving connections.\n"
            "# TYPE katsubushi_threads gauge\n"
            "katsubushi_threads 2\n");
}

TEST(MetricsTest, TheCheckerCatchesWhatItMust) {
  // Each of these breaks one rule the checker above relies on.
  EXPECT_NE(check_exposition("katsubushi_x 1\n"), "");
  EXPECT_NE(check_exposition("# TYPE a gauge\n# HELP a h\na 1\n"), "");
  EXPECT_NE(check_exposition("# HELP a h\n# TYPE a counter\na 1\n"), "");
  EXPECT_NE(check_exposition("# HELP a h\n# TYPE a gauge\na x\n"), "");
  EXPECT_NE(check_exposition("# HELP a h\n# TYPE a gauge\na 1\na 2\n"), "");
  EXPECT_NE(check_exposition("# HELP 1a h\n# TYPE 1a gauge\n1a 1\n"), "");
  EXPECT_NE(check_exposition("# HELP a h\n# TYPE a gauge\na{l=\"x} 1\n"), "");
  EXPECT_NE(check_exposition("# HELP a h\n# TYPE a gauge\na 1"), "");
  EXPECT_EQ(check_exposition("# HELP a_total h\n# TYPE a_total counter\na_total 1\n"), "");
}

// The stat names ServerStats::general_stats() reports, read from its source
// (the server library is not linked into unit tests): a stat added there
// without a row in the metric table fails here.
std::vector<std::string> server_stat_names() {
  const std::filesystem::path file =
      std::filesystem::path(KATSUBUSHI_SOURCE_DIR) / "src/server/server_stats.cpp";
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  const std::string source = s.str();
  const auto begin = source.find("ServerStats::general_stats()");
  const auto end = source.find("\n}\n", begin);  // the function's closing brace
  if (begin == std::string::npos || end == std::string::npos) return {};
  const std::string body = source.substr(begin, end - begin);
  std::vector<std::string> names;
  const std::regex entry(R"re(\{"([a-z_0-9]+)",)re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), entry); it != std::sregex_iterator();
       ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

TEST(MetricsTest, EveryStatTheServerReportsHasAMetric) {
  const auto names = server_stat_names();
  ASSERT_GE(names.size(), 20u) << "could not read the stat names from server_stats.cpp";
  for (const auto& name : names) {
    EXPECT_NE(find_metric(name), nullptr)
        << "stat " << name << " has no row in the metric table (src/http/metrics.cpp)";
  }
  // And the table names nothing the server does not report.
  for (const MetricInfo& m : metric_table()) {
    EXPECT_NE(std::find(names.begin(), names.end(), m.stat), names.end())
        << m.stat << " is in the metric table but not reported by the server";
  }
}

}  // namespace
}  // namespace katsubushi::http
