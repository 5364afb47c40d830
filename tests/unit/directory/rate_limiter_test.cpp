// The pacing with an injected clock: the reserve left to the org's other clients, 429s timed by Okta's Date header
// (not the local clock), caps and missing headers.
#include "directory/rate_limiter.h"

#include <gtest/gtest.h>

namespace postern::directory {
namespace {

using namespace std::chrono;
const TimePoint t0 = system_clock::from_time_t(1'800'000'000);

RateHeaders headers(unsigned status, std::int64_t limit, std::int64_t remaining, std::int64_t reset_in_s,
                    seconds server_skew = seconds(0)) {
  RateHeaders h;
  h.status = status;
  h.limit = limit;
  h.remaining = remaining;
  // Okta's clock runs `server_skew` ahead of ours; its reset is relative to its own clock.
  h.server_date = t0 + server_skew;
  h.reset = duration_cast<seconds>((t0 + server_skew + seconds(reset_in_s)).time_since_epoch()).count();
  return h;
}

TEST(RateLimiter, GoesWhileAboveTheReserveAndWaitsForTheWindowBelowIt) {
  RateLimiter l(0.5);
  EXPECT_EQ(l.wait_before("/api/v1/groups", t0), Millis{0});  // nothing known yet
  EXPECT_EQ(l.record("/api/v1/groups", headers(200, 500, 251, 40), t0), std::nullopt);
  EXPECT_EQ(l.wait_before("/api/v1/groups", t0), Millis{0});
  l.record("/api/v1/groups", headers(200, 500, 250, 40), t0);
  EXPECT_EQ(l.wait_before("/api/v1/groups", t0), Millis{41'000});  // half the budget is the org's: wait the window out
  EXPECT_EQ(l.wait_before("/api/v1/groups", t0 + seconds(41)), Millis{0});
  EXPECT_EQ(l.wait_before("/api/v1/logs", t0), Millis{0});  // buckets are separate
}

TEST(RateLimiter, WithNoReserveUsesTheWholeBucket) {
  RateLimiter l(0.0);
  l.record("/api/v1", headers(200, 1200, 1, 30), t0);
  EXPECT_EQ(l.wait_before("/api/v1", t0), Millis{0});
  l.record("/api/v1", headers(200, 1200, 0, 30), t0);
  EXPECT_EQ(l.wait_before("/api/v1", t0), Millis{31'000});
}

TEST(RateLimiter, A429WaitsForTheResetByOktasClockNotOurs) {
  RateLimiter l;
  // Okta's clock is 5 minutes ahead: its reset is 20 s away for it, which is what we must wait.
  const auto wait = l.record("/api/v1/groups", headers(429, 500, 0, 20, minutes(5)), t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, Millis{21'000});
  EXPECT_EQ(l.wait_before("/api/v1/groups", t0 + seconds(10)), Millis{11'000});
}

TEST(RateLimiter, WaitsAreCappedAndMissingHeadersStillPause) {
  RateLimiter l;
  EXPECT_EQ(l.record("/api/v1", headers(429, 0, 0, 3600), t0), RateLimiter::max_wait);  // concurrency 429, odd reset
  RateHeaders bare;
  bare.status = 429;
  EXPECT_EQ(l.record("/api/v1/users", bare, t0), Millis{1000});
  RateHeaders past = headers(429, 10, 0, -30);
  EXPECT_EQ(l.record("/api/v1/logs", past, t0), Millis{1000});  // a reset already gone: at least a second
}

struct FakeResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> h;
  std::string_view header(std::string_view name) const {
    for (const auto& [n, v] : h)
      if (n == name) return v;
    return {};
  }
};

TEST(RateLimiter, ReadsOktasHeadersAndRefusesDuplicatedValues) {
  const FakeResponse r{429, {{"X-Rate-Limit-Limit", "600"}, {"X-Rate-Limit-Remaining", "0"},
                              {"X-Rate-Limit-Reset", "1800000060, 1800000060"}, {"Date", "Fri, 15 Jan 2027 08:00:00 GMT"}}};
  const auto h = RateHeaders::of(r);
  EXPECT_EQ(h.limit, 600);
  EXPECT_EQ(h.remaining, 0);
  EXPECT_EQ(h.reset, std::nullopt);
  ASSERT_TRUE(h.server_date);
  EXPECT_EQ(system_clock::to_time_t(*h.server_date), 1'800'000'000);
  EXPECT_EQ(parse_http_date("Fri, 15 Jan 2027 08:00:00 UTC"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 32 Jan 2027 08:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date(""), std::nullopt);
}

}  // namespace
}  // namespace postern::directory
