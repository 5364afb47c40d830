#pragma once
// When a session's tokens are refreshed: pure arithmetic on times, so it is tested with an injected clock.
//  - first try: `lead` before the tokens expire, a quarter of their lifetime (at least 2 s, at most 5 min, never more
//    than half the lifetime): Okta's 1 h tokens are refreshed at 55 min, a test's 6 s tokens at 4 s;
//  - after a temporary failure: exponential backoff from 1 s, doubling, capped at 1 min, with ±20 % jitter so
//    replicas and sessions that failed together do not retry together.
#include <chrono>
#include <cstdint>

#include "session/session.h"

namespace postern::refresh {

using session::Clock;

inline constexpr std::chrono::seconds min_lead{2};
inline constexpr std::chrono::minutes max_lead{5};
inline constexpr std::chrono::seconds first_backoff{1};
inline constexpr std::chrono::minutes max_backoff{1};

// When a token set expires: the earlier of the access token's and the ID token's expiry (unix seconds; 0: not
// said); epoch when neither is known.
[[nodiscard]] Clock::time_point tokens_expire_at(std::int64_t access_expires_at, std::int64_t id_expires_at);
// How long before expiry a refresh is tried, for tokens that live `lifetime`.
[[nodiscard]] Clock::duration lead(Clock::duration lifetime);
// When to refresh tokens issued at `now` that expire at `expires_at` (epoch when `expires_at` is epoch: never).
[[nodiscard]] Clock::time_point first_due(Clock::time_point now, Clock::time_point expires_at);
// The wait after the `failures`-th consecutive temporary failure (1-based); `jitter` in [0, 1) spreads it ±20 %.
[[nodiscard]] Clock::duration backoff(std::uint32_t failures, double jitter);

}  // namespace postern::refresh
