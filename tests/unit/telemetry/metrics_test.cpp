#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace postern::telemetry {
namespace {

TEST(Metrics, MethodsOutsideTheStandardOnesAreOther) {
  EXPECT_EQ(method_of("GET"), Method::GET);
  EXPECT_EQ(method_of("PATCH"), Method::PATCH);
  EXPECT_EQ(method_of("get"), Method::OTHER);  // methods are case-sensitive
  EXPECT_EQ(method_of("FOOBAR"), Method::OTHER);
  EXPECT_EQ(to_string(Method::OTHER), "OTHER");
}

TEST(Metrics, BucketsAreInclusiveUpperBounds) {
  EXPECT_EQ(duration_bucket(0.5), 0u);
  EXPECT_EQ(duration_bucket(1.0), 0u);  // le="1" holds 1 ms
  EXPECT_EQ(duration_bucket(1.5), 1u);
  EXPECT_EQ(duration_bucket(1e9), duration_buckets_ms.size());  // +Inf
  EXPECT_EQ(size_bucket(0), 0u);
  EXPECT_EQ(size_bucket(65), 1u);
}

// size_bucket picks by bit width; it must agree with "the first bound at or above the size" everywhere, boundaries
// and their neighbours included.
TEST(Metrics, SizeBucketAgreesWithTheBoundsAroundEveryBound) {
  const auto reference = [](std::uint64_t bytes) {
    std::size_t i = 0;
    while (i < size_buckets_bytes.size() && static_cast<double>(bytes) > size_buckets_bytes[i]) ++i;
    return i;
  };
  std::vector<std::uint64_t> sizes{0, 1, 2, 3, 63, UINT64_MAX, UINT64_MAX - 1};
  for (const double b : size_buckets_bytes) {
    const auto v = static_cast<std::uint64_t>(b);
    for (const std::uint64_t d : {0ull, 1ull, 2ull}) {
      sizes.push_back(v - d);
      sizes.push_back(v + d);
    }
  }
  for (std::uint64_t shift = 0; shift < 64; ++shift) sizes.push_back(std::uint64_t{1} << shift);
  for (const auto s : sizes) EXPECT_EQ(size_bucket(s), reference(s)) << s;
}

TEST(Metrics, DurationBucketAtTheBounds) {
  for (std::size_t i = 0; i < duration_buckets_ms.size(); ++i) {
    EXPECT_EQ(duration_bucket(duration_buckets_ms[i]), i);
    EXPECT_EQ(duration_bucket(duration_buckets_ms[i] + 0.001), i + 1);
  }
  EXPECT_EQ(duration_bucket(-1.0), 0u);
}

TEST(Metrics, HostsThatShareAPrefixAreSeparateSeries) {
  WorkerMetrics w;
  w.record(SeriesKind::server_proxy, "app.example.com", "GET", 200, 1.0, 0, 0);
  w.record(SeriesKind::server_proxy, "app.example.co", "GET", 200, 1.0, 0, 0);
  w.record(SeriesKind::server_proxy, "app.example.com.", "GET", 200, 1.0, 0, 0);
  w.record(SeriesKind::server_proxy, "app.example.com", "GET", 200, 1.0, 0, 0);
  ASSERT_EQ(w.series_count(), 3u);
  EXPECT_EQ(w.series(0).requests.get(), 2u);
  EXPECT_EQ(w.series(1).host_label(), "app.example.co");
  EXPECT_EQ(w.series(2).host_label(), "app.example.com.");
  // Short, exactly one word, and one word and a byte: each differs from its neighbour in the last byte only.
  for (const char* host : {"a.b", "a.c", "12345678", "12345679", "123456789", "123456788", "a.b", "12345679"})
    w.record(SeriesKind::client, host, "GET", 200, 1.0, 0, 0);
  ASSERT_EQ(w.series_count(), 9u);
  EXPECT_EQ(w.series(3).requests.get(), 2u);  // a.b
  EXPECT_EQ(w.series(6).requests.get(), 2u);  // 12345679
  EXPECT_EQ(w.series(8).host_label(), "123456788");
}

TEST(Metrics, WorkersAreSummedPerLabelSet) {
  WorkerMetrics a, b;
  a.record(SeriesKind::server_proxy, "app.example.com", "GET", 200, 3.0, 10, 100);
  a.record(SeriesKind::server_proxy, "app.example.com", "GET", 200, 30.0, 0, 100);
  b.record(SeriesKind::server_proxy, "app.example.com", "GET", 200, 3.0, 0, 50);
  b.record(SeriesKind::server_authenticate, "auth.example.com", "GET", 302, 1.0, 0, 0);
  b.record(SeriesKind::client, "10.0.0.1:8080", "GET", 200, 2.0, 0, 50);
  a.decision(Decision::allow);
  b.decision(Decision::deny);
  MetricsRegistry r;
  r.add_worker(&a);
  r.add_worker(&b);
  const std::string out = r.render();
  EXPECT_NE(out.find("pomerium_http_server_requests_total{host=\"app.example.com\",method=\"GET\",service=\"proxy\","
                     "status=\"200\"} 3\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("pomerium_http_server_requests_total{host=\"auth.example.com\",method=\"GET\",service="
                     "\"authenticate\",status=\"302\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("pomerium_http_client_requests_total{host=\"10.0.0.1:8080\",method=\"GET\",status=\"200\"} 1\n"),
            std::string::npos);
  // Cumulative buckets: two requests took 3 ms (le="5"), one 30 ms (le="50").
  EXPECT_NE(out.find("pomerium_http_server_request_duration_ms_bucket{host=\"app.example.com\",method=\"GET\","
                     "service=\"proxy\",status=\"200\",le=\"5\"} 2\n"),
            std::string::npos);
  EXPECT_NE(out.find("pomerium_http_server_request_duration_ms_bucket{host=\"app.example.com\",method=\"GET\","
                     "service=\"proxy\",status=\"200\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(out.find("pomerium_http_server_request_duration_ms_sum{host=\"app.example.com\",method=\"GET\","
                     "service=\"proxy\",status=\"200\"} 36\n"),
            std::string::npos);
  EXPECT_NE(out.find("postern_authorize_decisions_total{outcome=\"allow\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("postern_authorize_decisions_total{outcome=\"deny\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE pomerium_http_server_request_duration_ms histogram\n"), std::string::npos);
}

TEST(Metrics, SeriesPastTheCapacityGoToOneOverflowSeries) {
  WorkerMetrics w;
  for (std::size_t i = 0; i < WorkerMetrics::series_capacity + 100; ++i)
    w.record(SeriesKind::server_proxy, "host-" + std::to_string(i), "GET", 200, 1.0, 0, 0);
  EXPECT_EQ(w.series_count(), WorkerMetrics::series_capacity);
  EXPECT_EQ(w.overflow().requests.get(), 100u);
  MetricsRegistry r;
  r.add_worker(&w);
  const std::string out = r.render();
  EXPECT_NE(out.find("pomerium_http_server_requests_total{host=\"other\",method=\"OTHER\",service=\"proxy\","
                     "status=\"other\"} 100\n"),
            std::string::npos);
}

TEST(Metrics, LabelValuesAreEscapedAndLongHostsCut) {
  std::string out;
  append_label_value(out, "a\"b\\c\nd");
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd");
  WorkerMetrics w;
  w.record(SeriesKind::server_proxy, std::string(300, 'h'), "GET", 200, 1.0, 0, 0);
  EXPECT_EQ(w.series(0).host_label().size(), RequestSeries::max_host);
}

TEST(Metrics, SourcesAreRenderedAndReplacedByKey) {
  MetricsRegistry r;
  r.set_source("x", [](std::vector<Family>& out) { out.push_back({"x_total", "An x.", "counter", {{"", 1}}}); });
  r.set_source("x", [](std::vector<Family>& out) {
    out.push_back({"x_total", "An x.", "counter", {{label("k", "v"), 2}}});
  });
  const std::string out = r.render();
  EXPECT_NE(out.find("x_total{k=\"v\"} 2\n"), std::string::npos);
  EXPECT_EQ(out.find("x_total 1\n"), std::string::npos);
}

}  // namespace
}  // namespace postern::telemetry
