#pragma once
// One route's load balancer on one worker: picks a `to` target for each request by the route's lb_policy, among the
// targets its RouteHealth says take traffic. Per worker, so nothing here is shared or locked; the shared health is
// read once per change (its generation) or when an ejection runs out.
//   round_robin    smooth weighted round robin (each target in proportion to its weight, interleaved)
//   least_request  equal weights: power of two choices (two random targets, the one with fewer requests in flight
//                  on this worker); unequal: weight ÷ (in flight + 1), in smooth round-robin order (Envoy's way)
//   random         weighted random
//   ring_hash      a ring of points per target (minimum_ring_size per unit of the smallest weight); a request goes
//                  to the first point at or after its hash. Removing a target moves only the requests it had.
//   maglev         Maglev's lookup table (table_size entries, prime): even spread and minimal movement, O(1) lookup
// ring_hash and maglev hash the route's hash_policy header when the request has it, else the session id; without
// either they pick at random, as Envoy does with no hash.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/settings.h"
#include "upstream/target_health.h"

namespace postern::upstream {

class Balancer {
 public:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  // `health` may be null (tests, or a route whose targets are never tracked).
  Balancer(const config::RouteSettings& route, RouteHealth* health, std::uint64_t seed = 0);

  // The target for a request; nullopt when no target takes traffic. `hash`: ring_hash / maglev's request key.
  // `exclude`: a target already tried for this request (a retry goes elsewhere when it can).
  [[nodiscard]] std::optional<std::size_t> pick(std::optional<std::uint64_t> hash, std::size_t exclude = none);
  [[nodiscard]] std::optional<std::size_t> pick(std::optional<std::uint64_t> hash, std::size_t exclude, Millis now);

  // Requests in flight on this worker, for least_request.
  void started(std::size_t i) noexcept { ++in_flight_[i]; }
  void finished(std::size_t i) noexcept {
    if (in_flight_[i] > 0) --in_flight_[i];
  }
  [[nodiscard]] bool hashes() const noexcept {
    return policy_ == config::LbPolicy::ring_hash || policy_ == config::LbPolicy::maglev;
  }
  [[nodiscard]] const std::string& hash_header() const noexcept { return hash_header_; }
  [[nodiscard]] std::size_t ring_points() const noexcept { return ring_points_.size(); }

 private:
  void refresh(Millis now);
  void build_ring();
  void build_maglev();
  [[nodiscard]] bool usable(std::size_t i, std::size_t exclude) const noexcept {
    return i != exclude && avail_.usable[i];
  }
  std::size_t weighted_random(std::size_t exclude);
  template <class Weight>
  std::size_t smooth_pick(std::size_t exclude, Weight weight);
  std::size_t by_hash(std::uint64_t hash, std::size_t exclude) const;

  config::LbPolicy policy_;
  std::string hash_header_;
  std::vector<std::uint32_t> weights_;
  std::vector<std::string> names_;  // what ring_hash and maglev hash for each target (its URL)
  std::uint32_t ring_minimum_, ring_maximum_, maglev_size_;
  RouteHealth* health_;
  std::uint64_t seen_generation_ = ~0ull;
  Availability avail_;
  std::vector<std::int64_t> current_;  // smooth round robin (and weighted least_request)
  bool equal_weights_ = true;
  std::vector<std::uint32_t> in_flight_;
  std::vector<std::uint64_t> ring_points_;  // sorted
  std::vector<std::uint32_t> ring_targets_;  // the target of each point
  std::vector<std::uint16_t> maglev_;  // target per slot
  std::mt19937_64 rng_;
};

}  // namespace postern::upstream
