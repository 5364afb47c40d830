#include "app/operations.h"

#include <chrono>

#include "version.h"
#include "upstream/target_health.h"

namespace postern::app {
namespace {

using telemetry::Family;
using telemetry::label;

Family family(std::string name, std::string help, std::string type) {
  return Family{std::move(name), std::move(help), std::move(type), {}};
}

void add(Family& f, double value, std::string labels = {}) { f.samples.push_back({std::move(labels), value}); }

}  // namespace

void add_process_metrics(telemetry::MetricsRegistry& registry, ProcessView view) {
  registry.set_source("process", [view](std::vector<Family>& out) {
    const proxy::Shared& shared = view.current();
    const auto& settings = shared.snapshot->settings;

    auto build = family("pomerium_build_info", "Postern's version (Pomerium's metric name).", "gauge");
    add(build, 1, label("version", POSTERN_VERSION) + "," + label("service", "postern"));
    out.push_back(std::move(build));

    const ReloadRecord& r = *view.reloads;
    auto ok = family("pomerium_config_last_reload_success", "1 when the last configuration load succeeded.", "gauge");
    add(ok, r.last_success ? 1 : 0);
    out.push_back(std::move(ok));
    auto ts = family("pomerium_config_last_reload_success_timestamp",
                     "When the configuration in use was loaded (unix seconds).", "gauge");
    add(ts, static_cast<double>(r.last_success_unix));
    out.push_back(std::move(ts));
    auto reloads = family("postern_config_reloads_total", "Configuration reloads by result.", "counter");
    add(reloads, static_cast<double>(r.succeeded), label("result", "success"));
    add(reloads, static_cast<double>(r.failed), label("result", "failure"));
    out.push_back(std::move(reloads));
    auto policies = family("pomerium_policy_count_total", "Routes in the configuration in use.", "gauge");
    add(policies, static_cast<double>(settings.routes.size()));
    out.push_back(std::move(policies));

    // Upstream targets: bounded by the configuration.
    if (shared.upstream_health) {
      auto healthy = family("postern_upstream_target_available",
                            "1 when the target takes traffic (checks pass and not ejected).", "gauge");
      auto ejections = family("postern_upstream_ejections_total", "Outlier-detection ejections per target.", "counter");
      const auto now = upstream::now_ms();
      for (std::size_t i = 0; i < settings.routes.size() && i < shared.upstream_health->size(); ++i) {
        const auto& rh = shared.upstream_health->route(i);
        for (std::size_t t = 0; t < settings.routes[i].to.size() && t < rh.size(); ++t) {
          const std::string labels =
              label("route", settings.routes[i].from) + "," + label("upstream", settings.routes[i].to[t].url);
          const auto& th = rh.target(t);
          add(healthy, th.checked_healthy.load(std::memory_order_relaxed) && !rh.ejected(t, now) ? 1 : 0, labels);
          add(ejections, static_cast<double>(th.ejections_total.load(std::memory_order_relaxed)), labels);
        }
      }
      out.push_back(std::move(healthy));
      out.push_back(std::move(ejections));
    }
    std::uint64_t held = 0, opened = 0, failed = 0;
    for (const auto* p : view.pools) {
      held += p->held();
      opened += p->opened();
      failed += p->failed();
    }
    auto pool = family("postern_upstream_pool_idle_connections", "Idle keep-alive connections to upstreams.", "gauge");
    add(pool, static_cast<double>(held));
    out.push_back(std::move(pool));
    auto opens = family("postern_upstream_connections_opened_total", "Upstream connections opened.", "counter");
    add(opens, static_cast<double>(opened));
    out.push_back(std::move(opens));
    auto fails = family("postern_upstream_connect_failures_total",
                        "Upstream connections that could not be made (DNS, TCP or TLS).", "counter");
    add(fails, static_cast<double>(failed));
    out.push_back(std::move(fails));

    const auto& auth = *shared.auth;
    if (auth.refresher) {
      const auto s = auth.refresher->stats();
      // Pomerium's identity manager counters, and Postern's by result.
      auto ok_total = family("pomerium_identity_manager_last_session_refresh_success",
                             "Session refreshes that succeeded.", "counter");
      add(ok_total, static_cast<double>(s.refreshed));
      out.push_back(std::move(ok_total));
      auto errors = family("pomerium_identity_manager_last_session_refresh_errors",
                           "Session refreshes that failed or ended the session.", "counter");
      add(errors, static_cast<double>(s.failed + s.ended));
      out.push_back(std::move(errors));
      auto by = family("postern_session_refreshes_total", "Session refreshes by result.", "counter");
      add(by, static_cast<double>(s.refreshed), label("result", "refreshed"));
      add(by, static_cast<double>(s.ended), label("result", "ended"));
      add(by, static_cast<double>(s.failed), label("result", "failed"));
      out.push_back(std::move(by));
    }
    if (auth.directory) {
      const auto d = auth.directory->stats();
      auto runs = family("postern_directory_sync_runs_total", "Okta directory runs by result.", "counter");
      add(runs, static_cast<double>(d.runs_ok), label("result", "success"));
      add(runs, static_cast<double>(d.runs_failed), label("result", "failure"));
      out.push_back(std::move(runs));
      auto size = family("postern_directory_objects", "What the directory snapshot in use holds.", "gauge");
      add(size, static_cast<double>(d.users), label("kind", "users"));
      add(size, static_cast<double>(d.groups), label("kind", "groups"));
      add(size, static_cast<double>(d.memberships), label("kind", "memberships"));
      out.push_back(std::move(size));
      auto last = family("postern_directory_last_success_timestamp", "When the last directory run succeeded (unix seconds; 0: never).",
                         "gauge");
      add(last, d.last_success.time_since_epoch().count() == 0
                    ? 0
                    : static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                              d.last_success.time_since_epoch()).count()));
      out.push_back(std::move(last));
      auto calls = family("postern_directory_api_calls_total", "Okta API calls the directory made.", "counter");
      add(calls, static_cast<double>(d.api_calls));
      out.push_back(std::move(calls));
      auto limited = family("postern_directory_rate_limited_total", "Okta answers of 429.", "counter");
      add(limited, static_cast<double>(d.rate_limited));
      out.push_back(std::move(limited));
    }
  });
}

ops::AdminHandler metrics_handler(const telemetry::MetricsRegistry& registry, std::string basic_auth) {
  return [&registry, basic_auth = std::move(basic_auth)](const ops::AdminRequest& req) {
    ops::AdminResponse res;
    if (req.path != "/metrics") {
      res.status = 404;
      res.body = "Not found: metrics are at /metrics.\n";
      return res;
    }
    if (!basic_auth.empty() && !ops::basic_auth_matches(req.authorization, basic_auth)) {
      res.status = 401;
      res.body = "Unauthorized.\n";
      res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"metrics\"");
      return res;
    }
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = registry.render();
    return res;
  };
}

ops::AdminHandler health_handler(ProcessView view) {
  return [view = std::move(view)](const ops::AdminRequest& req) {
    ops::AdminResponse res;
    if (req.path == "/healthz" || req.path == "/ping") {
      if (view.draining()) {
        res.status = 503;
        res.body = "stopping\n";
      } else {
        res.body = "OK\n";
      }
    } else if (req.path == "/readyz") {
      if (view.draining()) {
        res.status = 503;
        res.body = "not ready: stopping\n";
      } else if (!view.identity_provider_ready()) {
        res.status = 503;
        res.body = "not ready: the identity provider's discovery document has not been read yet\n";
      } else {
        res.body = "ready\n";
      }
    } else if (req.path == "/startupz") {
      res.body = "started\n";
    } else {
      res.status = 404;
      res.body = "Not found: /healthz, /readyz and /startupz are served here.\n";
    }
    return res;
  };
}

}  // namespace postern::app
