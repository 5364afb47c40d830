#include "app/upstreams_report.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <ostream>
#include <vector>

#include "net/tls.h"
#include "upstream/health_checker.h"

namespace postern::app {
namespace asio = boost::asio;

namespace {

struct Row {
  const config::RouteSettings* route = nullptr;
  const config::UpstreamTarget* target = nullptr;
  std::vector<std::string> checks;  // "http /healthz: status 200"
  bool healthy = true;
};

std::string describe_check(const config::HealthCheckSettings& c) {
  return c.kind == config::HealthCheckSettings::Kind::http ? "http " + c.path : "tcp";
}

}  // namespace

int run_upstreams_report(const config::Settings& settings, bool json, std::ostream& out) {
  asio::io_context io;
  std::vector<std::unique_ptr<Row>> rows;
  std::vector<std::shared_ptr<asio::ssl::context>> tls;
  // With no health check configured, a TCP connection tells whether the target is there.
  config::HealthCheckSettings connect_only;
  connect_only.kind = config::HealthCheckSettings::Kind::tcp;
  connect_only.timeout = std::chrono::seconds(3);
  for (const auto& rs : settings.routes) {
    tls.push_back(net::make_route_client_tls(rs));
    for (const auto& t : rs.to) {
      auto row = std::make_unique<Row>();
      row->route = &rs;
      row->target = &t;
      Row* r = row.get();
      const auto& checks = rs.upstream.health_checks;
      const std::size_t n = checks.empty() ? 1 : checks.size();
      r->checks.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        const auto& check = checks.empty() ? connect_only : checks[k];
        asio::co_spawn(
            io,
            [](Row* r, std::size_t k, const config::HealthCheckSettings& check, asio::ssl::context* ctx,
               std::string server_name) -> asio::awaitable<void> {
              auto result = co_await upstream::HealthChecker::probe(*r->target, check, ctx, server_name);
              r->checks[k] = describe_check(check) + ": " + result.detail;
              r->healthy = r->healthy && result.ok;
            }(r, k, check, tls.back().get(), rs.tls_server_name),
            asio::detached);
      }
      rows.push_back(std::move(row));
    }
  }
  io.run();

  bool all = true;
  const config::RouteSettings* last = nullptr;
  for (const auto& r : rows) {
    all = all && r->healthy;
    const auto& u = r->route->upstream;
    if (json) {
      boost::json::object o;
      o["route"] = r->route->from;
      o["upstream"] = r->target->url;
      o["weight"] = r->target->weight;
      o["lb_policy"] = std::string(config::to_string(u.lb_policy));
      o["healthy"] = r->healthy;
      boost::json::array checks;
      for (const auto& c : r->checks) checks.emplace_back(c);
      o["checks"] = std::move(checks);
      o["outlier_detection"] = u.outlier.enabled;
      out << boost::json::serialize(o) << "\n";
      continue;
    }
    if (r->route != last) {
      last = r->route;
      out << "route " << r->route->from << " (lb_policy " << config::to_string(u.lb_policy) << ", "
          << (u.health_checks.empty() ? std::string("no health checks: probed with a TCP connection")
                                      : std::to_string(u.health_checks.size()) + " health check(s)")
          << (u.outlier.enabled ? ", outlier detection on" : "") << ")\n";
    }
    out << "  " << r->target->url << "  weight " << r->target->weight << "  "
        << (r->healthy ? "healthy  " : "UNHEALTHY") << "  ";
    for (std::size_t i = 0; i < r->checks.size(); ++i) out << (i ? "; " : "") << r->checks[i];
    out << "\n";
  }
  return all ? 0 : 2;
}

}  // namespace postern::app
