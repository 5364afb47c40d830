#pragma once
// The health of every route's upstream targets, shared by all workers and the health checker: whether the last
// active checks passed, and whether passive outlier detection has ejected the target (until when). Workers read it
// on each pick (relaxed loads, no lock); they write only when an answer changes something (a failure, or the first
// success after failures), so the cache lines stay shared in the common case.
//
// Ejection follows Envoy: `consecutive_5xx` 5xx answers or failed connections in a row (or
// `consecutive_gateway_failure` 502/503/504s and failed connections, when enforced) eject a target for
// base_ejection_time × the number of recent ejections (capped at max_ejection_time); each `interval` that passes
// without an ejection forgets one; at most max_ejection_percent of the targets are out at once (always at least one).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"

namespace postern::upstream {

using Millis = std::int64_t;  // CLOCK_MONOTONIC milliseconds
[[nodiscard]] Millis now_ms() noexcept;

// What became of one forwarded request, as outlier detection counts it.
enum class Outcome : std::uint8_t {
  success,          // any answer below 500
  server_error,     // 500, 501, 505…: counts towards consecutive_5xx
  gateway_failure,  // 502, 503, 504: towards both counters
  connect_failure,  // DNS, TCP or TLS failure: towards both counters
};
[[nodiscard]] Outcome outcome_of_status(unsigned status) noexcept;

struct TargetHealth {
  std::atomic<bool> checked_healthy{true};  // active health checks (true when none are configured)
  std::atomic<Millis> ejected_until{0};     // outlier detection: out of rotation before this time
  std::atomic<std::uint32_t> consecutive_5xx{0};
  std::atomic<std::uint32_t> consecutive_gateway{0};
  std::atomic<std::uint32_t> ejection_level{0};  // recent ejections (the multiplier)
  std::atomic<Millis> level_since{0};            // when ejection_level last changed
  std::atomic<std::uint64_t> ejections_total{0};
};

// What the balancer needs to know about a route's targets at one moment.
struct Availability {
  std::vector<std::uint8_t> usable;  // per target: 1 = take traffic
  std::size_t usable_count = 0;
  bool panic = false;   // too few healthy: every target is used
  Millis recheck_at = 0;  // an ejection ends then: compute again
};

class RouteHealth {
 public:
  RouteHealth(std::size_t targets, const config::UpstreamOptions& options);

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] TargetHealth& target(std::size_t i) noexcept { return targets_[i]; }
  void copy_target(std::size_t i, const TargetHealth& from) noexcept;
  [[nodiscard]] const TargetHealth& target(std::size_t i) const noexcept { return targets_[i]; }
  // Moves on every change a worker must see at once (a check flipping a target, an ejection); ejections ending
  // are seen through Availability::recheck_at.
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  [[nodiscard]] bool tracks_anything() const noexcept { return tracking_; }

  // Outlier detection: one forwarded request's outcome. Returns true when this outcome ejected the target.
  bool record(std::size_t i, Outcome outcome, Millis now) noexcept;
  // Active health checks: the checker's verdict changed.
  void set_checked(std::size_t i, bool healthy) noexcept;

  // Which targets take traffic now, with healthy_panic_threshold applied.
  void availability(Millis now, Availability& out) const;
  [[nodiscard]] bool ejected(std::size_t i, Millis now) const noexcept {
    return targets_[i].ejected_until.load(std::memory_order_relaxed) > now;
  }

  // The ejection time for the n-th recent ejection (pure: the unit tests read it).
  [[nodiscard]] static Millis ejection_duration(const config::OutlierDetectionSettings& o, std::uint32_t level) noexcept;

 private:
  void bump() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }
  std::size_t count_;
  std::unique_ptr<TargetHealth[]> targets_;
  config::OutlierDetectionSettings outlier_;
  double panic_threshold_;
  bool tracking_;
  std::atomic<std::uint64_t> generation_{0};
};

// Every route's RouteHealth, indexed by route index; built once per configuration and shared.
class UpstreamHealth {
 public:
  explicit UpstreamHealth(const std::vector<config::RouteSettings>& routes);
  [[nodiscard]] RouteHealth& route(std::size_t index) noexcept { return *routes_[index]; }
  [[nodiscard]] std::size_t size() const noexcept { return routes_.size(); }

  // A reload: each target of `routes` that the previous configuration also had (the same route `from`, path match
  // and target URL) starts with its state there — the checks' verdict, an ejection in progress, the counters — so
  // a reload neither brings a dead target back nor forgets a sick one.
  void carry_over(const UpstreamHealth& previous, const std::vector<config::RouteSettings>& previous_routes,
                  const std::vector<config::RouteSettings>& routes);

 private:
  std::vector<std::unique_ptr<RouteHealth>> routes_;
};

}  // namespace postern::upstream
