#include "upstream/target_health.h"

#include <time.h>

#include <algorithm>

namespace postern::upstream {

Millis now_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

Outcome outcome_of_status(unsigned status) noexcept {
  if (status == 502 || status == 503 || status == 504) return Outcome::gateway_failure;
  if (status >= 500) return Outcome::server_error;
  return Outcome::success;
}

namespace {
Millis millis(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
}  // namespace

RouteHealth::RouteHealth(std::size_t targets, const config::UpstreamOptions& options)
    : count_(targets),
      targets_(std::make_unique<TargetHealth[]>(targets)),
      outlier_(options.outlier),
      panic_threshold_(options.healthy_panic_threshold),
      tracking_(options.outlier.enabled || !options.health_checks.empty()) {}

Millis RouteHealth::ejection_duration(const config::OutlierDetectionSettings& o, std::uint32_t level) noexcept {
  const Millis base = millis(o.base_ejection_time);
  const Millis cap = std::max(base, millis(o.max_ejection_time));
  return std::min(cap, base * std::max<std::uint32_t>(level, 1));
}

bool RouteHealth::record(std::size_t i, Outcome outcome, Millis now) noexcept {
  if (!outlier_.enabled || i >= count_) return false;
  TargetHealth& t = targets_[i];
  auto reset = [](std::atomic<std::uint32_t>& counter) {
    if (counter.load(std::memory_order_relaxed) != 0) counter.store(0, std::memory_order_relaxed);
  };
  std::uint32_t c5 = 0, cg = 0;
  switch (outcome) {
    case Outcome::success:
      reset(t.consecutive_5xx);
      reset(t.consecutive_gateway);
      return false;
    case Outcome::server_error:
      c5 = t.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
      reset(t.consecutive_gateway);
      break;
    case Outcome::gateway_failure:
    case Outcome::connect_failure:
      c5 = t.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
      cg = t.consecutive_gateway.fetch_add(1, std::memory_order_relaxed) + 1;
      break;
  }
  const bool by_5xx = outlier_.enforcing_consecutive_5xx > 0 && c5 >= outlier_.consecutive_5xx;
  const bool by_gateway = outlier_.enforcing_consecutive_gateway_failure > 0 && cg >= outlier_.consecutive_gateway_failure;
  if (!by_5xx && !by_gateway) return false;

  Millis until = t.ejected_until.load(std::memory_order_relaxed);
  if (until > now) return false;  // already out
  // At most max_ejection_percent of the targets out at once, but always at least one.
  std::size_t out = 0;
  for (std::size_t j = 0; j < count_; ++j) out += ejected(j, now) ? 1 : 0;
  const std::size_t allowed = std::max<std::size_t>(1, count_ * outlier_.max_ejection_percent / 100);
  if (out >= allowed) return false;
  // Recent ejections lengthen the next one; each interval spent back in rotation forgets one.
  std::uint32_t level = t.ejection_level.load(std::memory_order_relaxed);
  const Millis since = t.level_since.load(std::memory_order_relaxed);
  const Millis interval = std::max<Millis>(1, millis(outlier_.interval));
  if (level > 0 && now > since) {
    const auto forgotten = static_cast<std::uint64_t>((now - since) / interval);
    level = forgotten >= level ? 0 : level - static_cast<std::uint32_t>(forgotten);
  }
  ++level;
  const Millis duration = ejection_duration(outlier_, level);
  if (!t.ejected_until.compare_exchange_strong(until, now + duration, std::memory_order_acq_rel)) return false;
  t.ejection_level.store(level, std::memory_order_relaxed);
  t.level_since.store(now + duration, std::memory_order_relaxed);
  t.consecutive_5xx.store(0, std::memory_order_relaxed);
  t.consecutive_gateway.store(0, std::memory_order_relaxed);
  t.ejections_total.fetch_add(1, std::memory_order_relaxed);
  bump();
  return true;
}

void RouteHealth::set_checked(std::size_t i, bool healthy) noexcept {
  if (i >= count_) return;
  if (targets_[i].checked_healthy.exchange(healthy, std::memory_order_acq_rel) != healthy) bump();
}

void RouteHealth::availability(Millis now, Availability& out) const {
  out.usable.assign(count_, 0);
  out.usable_count = 0;
  out.panic = false;
  out.recheck_at = std::numeric_limits<Millis>::max();
  for (std::size_t i = 0; i < count_; ++i) {
    const TargetHealth& t = targets_[i];
    const Millis until = t.ejected_until.load(std::memory_order_relaxed);
    if (until > now) out.recheck_at = std::min(out.recheck_at, until);
    if (t.checked_healthy.load(std::memory_order_relaxed) && until <= now) {
      out.usable[i] = 1;
      ++out.usable_count;
    }
  }
  // Below healthy_panic_threshold percent healthy, Envoy spreads over every target rather than overload the few
  // left (0 turns this off: with nothing healthy, nothing is used and requests get 503).
  if (panic_threshold_ > 0 && static_cast<double>(out.usable_count) * 100 < panic_threshold_ * static_cast<double>(count_)) {
    out.panic = true;
    std::fill(out.usable.begin(), out.usable.end(), 1);
    out.usable_count = count_;
  }
}

UpstreamHealth::UpstreamHealth(const std::vector<config::RouteSettings>& routes) {
  routes_.reserve(routes.size());
  for (const auto& r : routes) routes_.push_back(std::make_unique<RouteHealth>(r.to.size(), r.upstream));
}

void RouteHealth::copy_target(std::size_t i, const TargetHealth& from) noexcept {
  auto& t = targets_[i];
  constexpr auto r = std::memory_order_relaxed;
  t.checked_healthy.store(from.checked_healthy.load(r), r);
  t.ejected_until.store(from.ejected_until.load(r), r);
  t.consecutive_5xx.store(from.consecutive_5xx.load(r), r);
  t.consecutive_gateway.store(from.consecutive_gateway.load(r), r);
  t.ejection_level.store(from.ejection_level.load(r), r);
  t.level_since.store(from.level_since.load(r), r);
  t.ejections_total.store(from.ejections_total.load(r), r);
  bump();
}

void UpstreamHealth::carry_over(const UpstreamHealth& previous, const std::vector<config::RouteSettings>& previous_routes,
                                const std::vector<config::RouteSettings>& routes) {
  const auto same_route = [](const config::RouteSettings& a, const config::RouteSettings& b) {
    return a.from == b.from && a.prefix == b.prefix && a.path == b.path && a.regex == b.regex;
  };
  for (std::size_t r = 0; r < routes.size() && r < routes_.size(); ++r) {
    for (std::size_t p = 0; p < previous_routes.size() && p < previous.size(); ++p) {
      if (!same_route(routes[r], previous_routes[p])) continue;
      for (std::size_t t = 0; t < routes[r].to.size(); ++t)
        for (std::size_t pt = 0; pt < previous_routes[p].to.size(); ++pt)
          if (routes[r].to[t].url == previous_routes[p].to[pt].url)
            routes_[r]->copy_target(t, previous.routes_[p]->target(pt));
      break;
    }
  }
}

}  // namespace postern::upstream
