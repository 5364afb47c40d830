#include "upstream/balancer.h"

#include <gtest/gtest.h>

#include <map>

#include "upstream/hash.h"

using namespace postern;
using namespace postern::upstream;
using config::LbPolicy;

namespace {

config::RouteSettings route(std::vector<std::uint32_t> weights, LbPolicy policy) {
  config::RouteSettings r;
  r.from = "https://app.example.com";
  for (std::size_t i = 0; i < weights.size(); ++i) {
    config::UpstreamTarget t;
    t.url = "http://10.0.0." + std::to_string(i + 1) + ":8080";
    t.weight = weights[i];
    r.to.push_back(t);
  }
  r.upstream.lb_policy = policy;
  return r;
}

std::vector<std::size_t> counts(Balancer& b, std::size_t n, std::size_t picks, bool hashed = false) {
  std::vector<std::size_t> c(n, 0);
  for (std::size_t i = 0; i < picks; ++i) {
    auto p = b.pick(hashed ? std::optional<std::uint64_t>(hash64("session-" + std::to_string(i))) : std::nullopt);
    EXPECT_TRUE(p.has_value());
    ++c[*p];
  }
  return c;
}

}  // namespace

TEST(Balancer, SmoothWeightedRoundRobinIsExactAndInterleaved) {
  auto r = route({5, 1, 1}, LbPolicy::round_robin);
  Balancer b(r, nullptr);
  std::string order;
  for (int i = 0; i < 7; ++i) order += char('a' + *b.pick(std::nullopt));
  EXPECT_EQ(order, "aabacaa");  // nginx's smooth sequence for weights 5,1,1
  const auto c = counts(b, 3, 7000);
  EXPECT_EQ(c, (std::vector<std::size_t>{5000, 1000, 1000}));
}

TEST(Balancer, RandomAndLeastRequestFollowWeights) {
  for (auto policy : {LbPolicy::random, LbPolicy::least_request}) {
    auto r = route({1, 1, 2}, policy);
    Balancer b(r, nullptr, 42);
    const auto c = counts(b, 3, 40000);
    EXPECT_NEAR(double(c[0]) / 40000, 0.25, 0.02) << int(policy);
    EXPECT_NEAR(double(c[2]) / 40000, 0.50, 0.02) << int(policy);
  }
}

TEST(Balancer, LeastRequestPrefersTheIdleTarget) {
  auto r = route({1, 1, 1}, LbPolicy::least_request);
  Balancer b(r, nullptr, 7);
  for (int i = 0; i < 50; ++i) b.started(0);  // target 0 is busy
  std::size_t zero = 0;
  for (int i = 0; i < 3000; ++i) zero += *b.pick(std::nullopt) == 0 ? 1 : 0;
  // Target 0 wins only when both choices land on it: (1/3)^2 of the time.
  EXPECT_LT(zero, 3000 / 9 + 100);
}

TEST(Balancer, RingHashIsStickyAndMovesAboutOneNthWhenATargetGoes) {
  auto r3 = route({1, 1, 1}, LbPolicy::ring_hash);
  auto r4 = route({1, 1, 1, 1}, LbPolicy::ring_hash);
  Balancer three(r3, nullptr), four(r4, nullptr), again(r3, nullptr);
  EXPECT_GE(three.ring_points(), 1024u);
  const auto spread = counts(three, 3, 30000, true);
  for (auto n : spread) EXPECT_NEAR(double(n) / 30000, 1.0 / 3, 0.06);
  std::size_t moved = 0;
  for (int i = 0; i < 10000; ++i) {
    const auto key = hash64("session-" + std::to_string(i));
    const auto a = *three.pick(key), b = *four.pick(key);
    EXPECT_EQ(a, *again.pick(key));  // same key, same target, in any balancer built from the same route
    if (a != b) {
      ++moved;
      EXPECT_EQ(b, 3u) << "a key only ever moves to the new target";
    }
  }
  EXPECT_NEAR(double(moved) / 10000, 0.25, 0.06);  // ~1/N of the keys move to the fourth target
}

TEST(Balancer, MaglevSpreadsEvenlyAndMovesLittle) {
  auto r3 = route({1, 1, 1}, LbPolicy::maglev);
  auto r4 = route({1, 1, 1, 1}, LbPolicy::maglev);
  Balancer three(r3, nullptr), four(r4, nullptr);
  const auto spread = counts(three, 3, 30000, true);
  for (auto n : spread) EXPECT_NEAR(double(n) / 30000, 1.0 / 3, 0.03);
  std::size_t moved = 0;
  for (int i = 0; i < 10000; ++i) {
    const auto key = hash64("session-" + std::to_string(i));
    if (*three.pick(key) != *four.pick(key)) ++moved;
  }
  EXPECT_LT(double(moved) / 10000, 0.35);  // Maglev: ~1/N plus a little disruption
}

TEST(Balancer, HealthAndEjectionTakeTargetsOutAndPanicPutsThemBack) {
  auto r = route({1, 1, 1}, LbPolicy::round_robin);
  r.upstream.outlier.enabled = true;
  r.upstream.outlier.consecutive_5xx = 2;
  r.upstream.outlier.max_ejection_percent = 100;
  r.upstream.healthy_panic_threshold = 50;
  RouteHealth health(3, r.upstream);
  Balancer b(r, &health);
  const Millis t0 = 1'000'000;
  health.set_checked(1, false);
  for (int i = 0; i < 100; ++i) EXPECT_NE(*b.pick(std::nullopt, Balancer::none, t0), 1u);
  // A retry avoids the target it came from.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*b.pick(std::nullopt, 0, t0), 2u);
  // Two 5xx in a row eject target 2: one of three healthy is below 50 %, so all three are used (panic).
  EXPECT_FALSE(health.record(2, Outcome::server_error, t0));
  EXPECT_TRUE(health.record(2, Outcome::server_error, t0));
  std::map<std::size_t, int> seen;
  for (int i = 0; i < 30; ++i) ++seen[*b.pick(std::nullopt, Balancer::none, t0)];
  EXPECT_EQ(seen.size(), 3u);
  // After 30 s the ejection ends; with target 1 healthy again, 1 and 2 are back without panic.
  health.set_checked(1, true);
  seen.clear();
  for (int i = 0; i < 30; ++i) ++seen[*b.pick(std::nullopt, Balancer::none, t0 + 31'000)];
  EXPECT_EQ(seen.size(), 3u);
}

TEST(Balancer, NothingHealthyWithoutPanicMeansNoTarget) {
  auto r = route({1, 1}, LbPolicy::round_robin);
  r.upstream.health_checks.emplace_back();
  r.upstream.healthy_panic_threshold = 0;
  RouteHealth health(2, r.upstream);
  Balancer b(r, &health);
  health.set_checked(0, false);
  health.set_checked(1, false);
  EXPECT_FALSE(b.pick(std::nullopt, Balancer::none, 5).has_value());
}

TEST(EjectionClock, GrowsWithRepeatsCapsAndForgets) {
  config::OutlierDetectionSettings o;
  o.enabled = true;
  o.consecutive_5xx = 1;
  o.base_ejection_time = std::chrono::seconds(10);
  o.max_ejection_time = std::chrono::seconds(25);
  o.interval = std::chrono::seconds(10);
  o.max_ejection_percent = 100;
  EXPECT_EQ(RouteHealth::ejection_duration(o, 1), 10'000);
  EXPECT_EQ(RouteHealth::ejection_duration(o, 2), 20'000);
  EXPECT_EQ(RouteHealth::ejection_duration(o, 5), 25'000);
  config::UpstreamOptions u;
  u.outlier = o;
  RouteHealth h(4, u);
  Millis t = 100'000;
  ASSERT_TRUE(h.record(0, Outcome::connect_failure, t));
  EXPECT_EQ(h.target(0).ejected_until.load(), t + 10'000);
  EXPECT_FALSE(h.record(0, Outcome::server_error, t + 1));  // already out
  t += 10'000;
  ASSERT_TRUE(h.record(0, Outcome::server_error, t));  // back and failing at once: twice as long
  EXPECT_EQ(h.target(0).ejected_until.load(), t + 20'000);
  t += 20'000 + 3 * 10'000;  // three quiet intervals forget both ejections
  ASSERT_TRUE(h.record(0, Outcome::server_error, t));
  EXPECT_EQ(h.target(0).ejected_until.load(), t + 10'000);
}

TEST(EjectionClock, MaxEjectionPercentKeepsTargetsInRotation) {
  config::UpstreamOptions u;
  u.outlier.enabled = true;
  u.outlier.consecutive_5xx = 1;
  u.outlier.max_ejection_percent = 10;  // of 4 targets: at least one may go, no more
  RouteHealth h(4, u);
  EXPECT_TRUE(h.record(0, Outcome::server_error, 1000));
  EXPECT_FALSE(h.record(1, Outcome::server_error, 1000));
  EXPECT_FALSE(h.ejected(1, 1000));
  // 4xx and successes reset the count; gateway failures count only when enforced.
  u.outlier.consecutive_5xx = 2;
  RouteHealth g(2, u);
  EXPECT_FALSE(g.record(0, Outcome::server_error, 1));
  EXPECT_FALSE(g.record(0, Outcome::success, 2));
  EXPECT_FALSE(g.record(0, Outcome::server_error, 3));
  EXPECT_TRUE(g.record(0, Outcome::gateway_failure, 4));
  EXPECT_EQ(outcome_of_status(503), Outcome::gateway_failure);
  EXPECT_EQ(outcome_of_status(500), Outcome::server_error);
  EXPECT_EQ(outcome_of_status(404), Outcome::success);
}

TEST(Balancer, ARouteWithoutTargetsNeverPicksAndNeverCrashes) {
  for (auto policy : {LbPolicy::round_robin, LbPolicy::least_request, LbPolicy::random, LbPolicy::ring_hash,
                      LbPolicy::maglev}) {
    auto r = route({}, policy);  // a redirect or response route: no `to`
    Balancer b(r, nullptr);
    EXPECT_FALSE(b.pick(hash64("k")).has_value());
  }
}
