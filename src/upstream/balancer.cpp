#include "upstream/balancer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include "upstream/hash.h"

namespace postern::upstream {

Balancer::Balancer(const config::RouteSettings& route, RouteHealth* health, std::uint64_t seed)
    : policy_(route.upstream.lb_policy),
      hash_header_(route.upstream.hash_header),
      ring_minimum_(route.upstream.ring_minimum_size),
      ring_maximum_(route.upstream.ring_maximum_size),
      maglev_size_(route.upstream.maglev_table_size),
      health_(health && health->tracks_anything() ? health : nullptr),
      rng_(seed ^ hash64(route.from)) {
  for (const auto& t : route.to) {
    weights_.push_back(std::max<std::uint32_t>(1, t.weight));
    names_.push_back(t.url);
  }
  current_.assign(weights_.size(), 0);
  equal_weights_ = std::all_of(weights_.begin(), weights_.end(), [&](std::uint32_t w) { return w == weights_[0]; });
  in_flight_.assign(weights_.size(), 0);
  avail_.usable.assign(weights_.size(), 1);
  avail_.usable_count = weights_.size();
  avail_.recheck_at = std::numeric_limits<Millis>::max();
  if (policy_ == config::LbPolicy::ring_hash) build_ring();
  if (policy_ == config::LbPolicy::maglev) build_maglev();
}

void Balancer::refresh(Millis now) {
  const std::uint64_t generation = health_->generation();
  if (generation == seen_generation_ && now < avail_.recheck_at) return;
  seen_generation_ = generation;
  const auto before = avail_.usable;
  health_->availability(now, avail_);
  if (avail_.usable != before) {
    if (policy_ == config::LbPolicy::ring_hash) build_ring();
    if (policy_ == config::LbPolicy::maglev) build_maglev();
  }
}

// Smooth weighted round robin (nginx's): every usable target gains its effective weight; the richest is picked and
// pays the total. Precondition: at least one usable target.
template <class Weight>
std::size_t Balancer::smooth_pick(std::size_t exclude, Weight weight) {
  std::int64_t total = 0;
  std::size_t best = none;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (!usable(i, exclude)) continue;
    const std::int64_t w = weight(i);
    current_[i] += w;
    total += w;
    if (best == none || current_[i] > current_[best]) best = i;
  }
  current_[best] -= total;
  return best;
}

std::optional<std::size_t> Balancer::pick(std::optional<std::uint64_t> hash, std::size_t exclude) {
  return pick(hash, exclude, health_ ? now_ms() : 0);
}

std::optional<std::size_t> Balancer::pick(std::optional<std::uint64_t> hash, std::size_t exclude, Millis now) {
  const std::size_t n = weights_.size();
  if (n == 1 && !health_) return 0;  // the common route: one target, nothing tracked
  if (n == 0) return std::nullopt;
  if (health_) refresh(now);
  std::size_t candidates = avail_.usable_count - (exclude < n && avail_.usable[exclude] ? 1 : 0);
  if (candidates == 0) {
    // Nothing else takes traffic: a retry may go back to the target it came from rather than nowhere.
    if (exclude < n && avail_.usable[exclude]) return exclude;
    return std::nullopt;
  }
  if (candidates == 1) {
    for (std::size_t i = 0; i < n; ++i)
      if (usable(i, exclude)) return i;
  }
  switch (policy_) {
    case config::LbPolicy::round_robin:
      return smooth_pick(exclude, [&](std::size_t i) { return std::int64_t(weights_[i]); });
    case config::LbPolicy::random: return weighted_random(exclude);
    case config::LbPolicy::least_request: {
      if (equal_weights_) {
        // Power of two choices: the one of two random targets with fewer requests in flight.
        const std::size_t a = weighted_random(exclude);
        std::size_t b = weighted_random(exclude);
        for (int tries = 0; b == a && tries < 4; ++tries) b = weighted_random(exclude);
        return in_flight_[b] < in_flight_[a] ? b : a;
      }
      // Weighted, as Envoy does it: each target's weight divided by its requests in flight + 1, served in smooth
      // round-robin order (with nothing in flight this is exactly the weights).
      return smooth_pick(exclude,
                         [&](std::size_t i) { return std::int64_t(weights_[i]) * 1024 / (in_flight_[i] + 1); });
    }
    case config::LbPolicy::ring_hash:
    case config::LbPolicy::maglev:
      if (!hash) return weighted_random(exclude);
      return by_hash(*hash, exclude);
  }
  return weighted_random(exclude);
}

std::size_t Balancer::weighted_random(std::size_t exclude) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (usable(i, exclude)) total += weights_[i];
  std::uint64_t r = rng_() % total;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (!usable(i, exclude)) continue;
    if (r < weights_[i]) return i;
    r -= weights_[i];
  }
  return 0;  // not reached: total > 0
}

std::size_t Balancer::by_hash(std::uint64_t hash, std::size_t exclude) const {
  if (policy_ == config::LbPolicy::maglev && !maglev_.empty()) {
    const std::size_t i = maglev_[hash % maglev_.size()];
    if (usable(i, exclude)) return i;
    // The table's target was just tried: the ring-like fallback is the next usable target in order.
    for (std::size_t k = 1; k <= weights_.size(); ++k) {
      const std::size_t j = (i + k) % weights_.size();
      if (usable(j, exclude)) return j;
    }
    return i;
  }
  if (ring_points_.empty()) return 0;
  std::size_t at = static_cast<std::size_t>(
      std::lower_bound(ring_points_.begin(), ring_points_.end(), hash) - ring_points_.begin());
  for (std::size_t steps = 0; steps < ring_points_.size(); ++steps, ++at) {
    if (at == ring_points_.size()) at = 0;
    if (usable(ring_targets_[at], exclude)) return ring_targets_[at];
  }
  return ring_targets_.front();
}

// Points are placed per target from its own name alone, and how many a target gets does not depend on how many
// targets there are (minimum_ring_size points per unit of the smallest weight, the whole ring scaled down only past
// maximum_ring_size): a target joining or leaving moves only the requests between its points and their
// predecessors (~1/N of them). (Envoy spreads minimum_ring_size over all targets, so its rings reshuffle a little
// more when the target list changes.)
void Balancer::build_ring() {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> ring;
  ring_points_.clear();
  ring_targets_.clear();
  if (weights_.empty()) return;  // a route without `to` (redirect, response) never picks
  const std::uint32_t min_weight = *std::min_element(weights_.begin(), weights_.end());
  std::uint64_t total_points = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    total_points += std::uint64_t(ring_minimum_) * weights_[i] / min_weight;
  const double scale = total_points > ring_maximum_ ? double(ring_maximum_) / double(total_points) : 1.0;
  std::string key;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (!avail_.usable[i]) continue;
    const auto points = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(scale * double(std::uint64_t(ring_minimum_) * weights_[i] / min_weight)));
    for (std::uint64_t p = 0; p < points; ++p) {
      key = names_[i];
      key += '_';
      key += std::to_string(p);
      ring.emplace_back(hash64(key), static_cast<std::uint32_t>(i));
    }
  }
  std::sort(ring.begin(), ring.end());
  ring_points_.resize(ring.size());
  ring_targets_.resize(ring.size());
  for (std::size_t k = 0; k < ring.size(); ++k) std::tie(ring_points_[k], ring_targets_[k]) = ring[k];
}

// Maglev (Eisenbud et al., NSDI 2016) with weights as Envoy does them: each round a target places an entry when its
// share of the heaviest weight crosses the next whole number.
void Balancer::build_maglev() {
  const std::size_t m = maglev_size_;
  if (weights_.empty()) {
    maglev_.clear();
    return;
  }
  maglev_.assign(m, 0);
  std::vector<std::size_t> members;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (avail_.usable[i]) members.push_back(i);
  if (members.empty()) {
    maglev_.clear();
    return;
  }
  std::vector<std::uint64_t> offset(members.size()), skip(members.size()), next(members.size(), 0);
  std::vector<double> credit(members.size(), 0);
  double max_weight = 0;
  for (std::size_t k = 0; k < members.size(); ++k) {
    offset[k] = hash64(names_[members[k]]) % m;
    skip[k] = hash64(names_[members[k]], 0x9e3779b97f4a7c15ull) % (m - 1) + 1;
    max_weight = std::max<double>(max_weight, weights_[members[k]]);
  }
  std::vector<std::uint8_t> filled(m, 0);
  std::size_t placed = 0;
  while (placed < m) {
    for (std::size_t k = 0; k < members.size() && placed < m; ++k) {
      credit[k] += weights_[members[k]] / max_weight;
      if (credit[k] < 1) continue;
      credit[k] -= 1;
      std::uint64_t slot = (offset[k] + next[k] * skip[k]) % m;
      while (filled[slot]) {
        ++next[k];
        slot = (offset[k] + next[k] * skip[k]) % m;
      }
      ++next[k];
      filled[slot] = 1;
      maglev_[slot] = static_cast<std::uint16_t>(members[k]);
      ++placed;
    }
  }
}

}  // namespace postern::upstream
