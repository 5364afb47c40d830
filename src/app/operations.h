#pragma once
// What operators see of a running Postern beyond the access log: the metrics that are not workers' cells (read from
// the rest of the process when scraped), the handlers of the metrics and probe listeners, and the reload record.
// Everything here runs on the control thread (scrapes, probes and reloads share its io_context), so the current
// configuration is read without a lock.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ops/admin_server.h"
#include "proxy/worker_context.h"
#include "telemetry/metrics.h"

namespace postern::app {

struct ReloadRecord {
  bool last_success = true;
  std::int64_t last_success_unix = 0;  // the last configuration loaded (startup counts)
  std::int64_t last_attempt_unix = 0;
  std::uint64_t succeeded = 0, failed = 0;
};

// The process as the operations endpoints see it.
struct ProcessView {
  std::function<const proxy::Shared&()> current;  // the configuration in use
  const ReloadRecord* reloads = nullptr;
  std::vector<const net::UpstreamPool*> pools;    // each worker's
  std::function<bool()> draining;                 // SIGTERM received
  std::function<bool()> identity_provider_ready;  // the IdP's discovery document has been read (true without one)
};

// Registers the process-wide metric families (build info, config reloads, policies, upstream health and pools,
// session refresh, the Okta directory).
void add_process_metrics(telemetry::MetricsRegistry& registry, ProcessView view);

// metrics_address: /metrics (Prometheus text; basic auth when metrics_basic_auth is set).
[[nodiscard]] ops::AdminHandler metrics_handler(const telemetry::MetricsRegistry& registry, std::string basic_auth);

// health_check_addr: /healthz (alive; 503 once stopping), /readyz (configuration loaded and the IdP's discovery
// read), /startupz (started), /ping.
[[nodiscard]] ops::AdminHandler health_handler(ProcessView view);

}  // namespace postern::app
