#include "refresh/schedule.h"

#include <gtest/gtest.h>

namespace postern::refresh {
namespace {

using namespace std::chrono_literals;
const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

TEST(RefreshSchedule, OktaHourLongTokensAreRefreshedFiveMinutesEarly) {
  EXPECT_EQ(first_due(t0, t0 + 1h), t0 + 55min);
}

TEST(RefreshSchedule, ShortTokensGetAQuarterOfTheirLifeButAtLeastTwoSeconds) {
  EXPECT_EQ(first_due(t0, t0 + 40s), t0 + 30s);
  EXPECT_EQ(first_due(t0, t0 + 6s), t0 + 4s);
  // Never more than half the lifetime: 3 s tokens are refreshed at 1.5 s, not at 1 s.
  EXPECT_EQ(first_due(t0, t0 + 3s), t0 + 1500ms);
}

TEST(RefreshSchedule, UnknownExpiryIsNeverScheduled) {
  EXPECT_EQ(first_due(t0, Clock::time_point{}), Clock::time_point{});
  EXPECT_EQ(tokens_expire_at(0, 0), Clock::time_point{});
}

TEST(RefreshSchedule, TheEarlierTokenDecides) {
  EXPECT_EQ(tokens_expire_at(1'800'000'100, 1'800'000'050), Clock::time_point(std::chrono::seconds(1'800'000'050)));
  EXPECT_EQ(tokens_expire_at(1'800'000'100, 0), Clock::time_point(std::chrono::seconds(1'800'000'100)));
  EXPECT_EQ(tokens_expire_at(0, 1'800'000'050), Clock::time_point(std::chrono::seconds(1'800'000'050)));
}

TEST(RefreshSchedule, BackoffDoublesFromOneSecondUpToAMinute) {
  EXPECT_EQ(backoff(1, 0.5), 1s);
  EXPECT_EQ(backoff(2, 0.5), 2s);
  EXPECT_EQ(backoff(3, 0.5), 4s);
  EXPECT_EQ(backoff(7, 0.5), 60s);
  EXPECT_EQ(backoff(1000, 0.5), 60s);
}

TEST(RefreshSchedule, JitterSpreadsTwentyPercentEitherWay) {
  EXPECT_EQ(backoff(3, 0.0), 3200ms);
  EXPECT_EQ(backoff(3, 1.0), 4800ms);
  EXPECT_EQ(backoff(3, 7.0), 4800ms);  // out-of-range jitter is clamped
}

}  // namespace
}  // namespace postern::refresh
