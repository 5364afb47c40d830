#pragma once
// Active health checks (a route's `health_checks`), run on the control thread's io_context and shared by every
// worker through UpstreamHealth. Each (route, target, check) is one coroutine: wait a random part of initial_jitter,
// then every `interval` probe the target under `timeout` — an HTTP GET of `path` (with `host`, any of
// expected_statuses passing; https targets through the route's client TLS context) or a TCP connection. A target
// starts healthy, turns unhealthy after unhealthy_threshold failures in a row and healthy again after
// healthy_threshold passes; with several checks, it takes traffic only while all of them pass. Each change is one
// JSON log line.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"
#include "upstream/target_health.h"

namespace postern::upstream {

struct ProbeResult {
  bool ok = false;
  std::string detail;  // "status 503", "connection refused", "timed out after 1s"
};

class HealthChecker {
 public:
  // `route_tls[i]`: the client TLS context of route i (null when it has no https targets).
  // `owner` (optional) holds `routes` and `health`: kept until the last probe in flight has ended, so the checker
  // may be destroyed while probes run (a reload replaces it).
  HealthChecker(boost::asio::io_context& io, const std::vector<config::RouteSettings>& routes, UpstreamHealth& health,
                std::vector<std::shared_ptr<boost::asio::ssl::context>> route_tls,
                std::shared_ptr<const void> owner = nullptr);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  // Cancels every wait and probe: the io_context can run out of work.
  void stop();
  [[nodiscard]] std::size_t check_count() const noexcept;

  // One probe, as the checker runs it (also `postern upstreams`).
  static boost::asio::awaitable<ProbeResult> probe(const config::UpstreamTarget& target,
                                                   const config::HealthCheckSettings& check,
                                                   boost::asio::ssl::context* tls, const std::string& server_name);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace postern::upstream
