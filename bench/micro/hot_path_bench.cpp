// Micro-benchmarks of what every proxied request pays in user space besides I/O: route matching, header rewriting,
// head serialization, request ids.
#include <benchmark/benchmark.h>

#include "config/loader.h"
#include "config/route_table.h"
#include "core/random.h"
#include "proxy/header_rewrite.h"
#include "proxy/wire.h"
#include "telemetry/access_log.h"
#include "telemetry/metrics.h"

namespace {

using namespace postern;
namespace http = boost::beast::http;

config::Settings settings_with_routes(int n) {
  std::string yaml = "routes:\n";
  for (int i = 0; i < n; ++i)
    yaml += "  - from: https://app" + std::to_string(i) + ".example.com\n    to: http://10.0.0.1:8080\n"
            "    allow_public_unauthenticated_access: true\n";
  return config::load_settings_from_text(yaml, "bench.yaml", config::Environment());
}

void BM_RouteMatchLastOf(benchmark::State& state) {
  const auto s = settings_with_routes(static_cast<int>(state.range(0)));
  const config::RouteTable table(s.routes, s.default_upstream_timeout);
  const std::string host = "app" + std::to_string(state.range(0) - 1) + ".example.com";
  for (auto _ : state) benchmark::DoNotOptimize(table.match(host, 443, "/index.html"));
}
BENCHMARK(BM_RouteMatchLastOf)->Arg(1)->Arg(10)->Arg(100);

void BM_WriteUpstreamRequestHead(benchmark::State& state) {
  const auto s = settings_with_routes(1);
  const config::RouteTable table(s.routes, s.default_upstream_timeout);
  const auto& route = table.routes().front();
  proxy::HeadBuffer head;
  for (auto _ : state) {
    proxy::RequestHeader req;
    req.method(http::verb::get);
    req.target("/index.html");
    req.set(http::field::host, "app0.example.com");
    req.set(http::field::user_agent, "bench/1.0");
    req.set(http::field::accept, "*/*");
    req.set(http::field::connection, "keep-alive");
    head.clear();
    proxy::write_upstream_request_head(req, s, route, route.settings().to[0],
                                       {"127.0.0.1", "https", "app0.example.com", "0123456789abcdef", "/index.html"},
                                       {}, head);
    benchmark::DoNotOptimize(head.view().data());
  }
}
BENCHMARK(BM_WriteUpstreamRequestHead);

void BM_RequestId(benchmark::State& state) {
  char id[32];
  for (auto _ : state) {
    core::random_hex_id(id);
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_RequestId);

}  // namespace

namespace {
void BM_AccessLogLine(benchmark::State& state) {
  postern::telemetry::AccessLog log;
  const postern::telemetry::AccessRecord record{"0123456789abcdef0123456789abcdef", "GET", "app.example.com:8443",
                                                "/index.html", 200, 0.412, "http://10.0.0.1:8080", 0, 100,
                                                "10.1.2.3"};
  std::size_t n = 0;
  for (auto _ : state) {
    log.append(record);
    if (++n % 1000 == 0) state.PauseTiming(), log.~AccessLog(), new (&log) postern::telemetry::AccessLog(),
                          state.ResumeTiming();
  }
}
BENCHMARK(BM_AccessLogLine);
}  // namespace

namespace {
// What metrics add to an exchange (metrics_address set): the server series and the upstream's client series.
void BM_MetricsRecordExchange(benchmark::State& state) {
  postern::telemetry::WorkerMetrics metrics;
  for (auto _ : state) {
    metrics.record(postern::telemetry::SeriesKind::server_proxy, "app.corp.example.com", "GET", 200, 0.41, 0, 100);
    metrics.record(postern::telemetry::SeriesKind::client, "127.0.0.1:18180", "GET", 200, 0.2, 0, 100);
  }
  benchmark::DoNotOptimize(metrics.series(0).requests.get());
}
BENCHMARK(BM_MetricsRecordExchange);
}  // namespace
