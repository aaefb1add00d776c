#include "base/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace portcullis {
namespace {

TEST(MetricsTest, CountersRenderEverySeriesAndCellsAreTheSeries) {
  Metrics m;
  Counter& plain = m.AddCounter("x_total", "plain");
  Counter& labelled = m.AddCounter("y_total", "by route", {"route", "status"});
  plain.Inc();
  plain.Inc({}, 2);
  labelled.Inc({"/v1/me", "200"});
  std::atomic<std::uint64_t>& cell = labelled.Cell({"/v1/me", "200"});
  cell.fetch_add(4);
  EXPECT_EQ(&cell, &labelled.Cell({"/v1/me", "200"}));  // stable
  EXPECT_EQ(labelled.Value({"/v1/me", "200"}), 5u);
  EXPECT_EQ(labelled.Value({"/v1/me", "404"}), 0u);
  const std::string out = m.Render();
  EXPECT_NE(out.find("x_total 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("y_total{route=\"/v1/me\",status=\"200\"} 5\n"), std::string::npos) << out;
}

TEST(MetricsTest, IncOneCountsPreregisteredAndOtherValuesInTheirOwnSeries) {
  Metrics m;
  Counter& results = m.AddCounter("z_total", "by result", {"result"});
  results.Preregister({"ok", "allowed"});
  EXPECT_EQ(results.Value({"ok"}), 0u);  // the series exists from the start
  EXPECT_NE(m.Render().find("z_total{result=\"ok\"} 0\n"), std::string::npos);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) results.IncOne("ok");
    });
  }
  for (std::thread& thread : threads) thread.join();
  results.IncOne("allowed", 3);
  results.IncOne("expired");  // not preregistered: the locked path, same series as Inc
  results.Inc({"expired"});
  EXPECT_EQ(results.Value({"ok"}), 2000u);
  EXPECT_EQ(results.Value({"allowed"}), 3u);
  EXPECT_EQ(results.Value({"expired"}), 2u);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndConcurrentObservationsAllCount) {
  Metrics m;
  Histogram& h = m.AddHistogram("lat_seconds", "latency", {"route"}, {0.001, 0.01, 0.1});
  Histogram::Series& series = h.SeriesFor({"/a"});
  EXPECT_EQ(&series, &h.SeriesFor({"/a"}));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) series.Observe(0.005);  // in the 0.01 and 0.1 buckets
    });
  }
  for (std::thread& t : threads) t.join();
  h.Observe({"/a"}, 0.5);  // only +Inf
  const std::string out = m.Render();
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"0.001\"} 0\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"0.01\"} 4000\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"0.1\"} 4000\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4001\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_count{route=\"/a\"} 4001\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_sum{route=\"/a\"} 20.5\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace portcullis
