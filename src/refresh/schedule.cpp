#include "refresh/schedule.h"

#include <algorithm>

namespace postern::refresh {

Clock::time_point tokens_expire_at(std::int64_t access_expires_at, std::int64_t id_expires_at) {
  const std::int64_t first = access_expires_at <= 0 ? id_expires_at
                             : id_expires_at <= 0   ? access_expires_at
                                                    : std::min(access_expires_at, id_expires_at);
  return first > 0 ? Clock::time_point(std::chrono::seconds(first)) : Clock::time_point{};
}

Clock::duration lead(Clock::duration lifetime) {
  if (lifetime <= Clock::duration::zero()) return Clock::duration::zero();
  Clock::duration l = std::clamp<Clock::duration>(lifetime / 4, min_lead, max_lead);
  return std::min(l, lifetime / 2);
}

Clock::time_point first_due(Clock::time_point now, Clock::time_point expires_at) {
  if (expires_at == Clock::time_point{}) return {};
  return expires_at - lead(expires_at - now);
}

Clock::duration backoff(std::uint32_t failures, double jitter) {
  const std::uint32_t doublings = std::min<std::uint32_t>(failures == 0 ? 0 : failures - 1, 16);
  const auto base = std::min<Clock::duration>(first_backoff * (1LL << doublings), max_backoff);
  const double factor = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::duration_cast<Clock::duration>(base * factor);
}

}  // namespace postern::refresh
