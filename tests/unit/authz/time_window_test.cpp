// The time criteria's parsers and their matching with an injected clock, across zones and daylight saving.
#include "authz/time_window.h"

#include <gtest/gtest.h>

namespace postern::authz {
namespace {

using namespace std::chrono;

TimePoint at(const char* iso) { return *parse_iso8601(iso); }

TEST(TimeWindow, ParsesIso8601) {
  EXPECT_EQ(at("2026-03-01"), at("2026-03-01T00:00:00Z"));
  EXPECT_EQ(at("2026-03-01T09:30"), at("2026-03-01T09:30:00Z"));
  EXPECT_EQ(at("2026-03-01T10:30:00+01:00"), at("2026-03-01T09:30:00Z"));
  EXPECT_EQ(at("2026-03-01 04:30:00-0500"), at("2026-03-01T09:30:00Z"));
  EXPECT_EQ(at("2026-03-01T09:30:00.5Z") - at("2026-03-01T09:30:00Z"), milliseconds(500));
  for (const char* bad : {"", "2026-3-1", "2026-02-30", "2026-03-01T25:00", "2026-03-01T09:30:00Q", "tomorrow",
                          "2026-03-01T09:30:00.1234567890Z", "2026-03-01T09:30:00+2"})
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

TEST(TimeWindow, ParsesClockTimesInPomeriumsFormats) {
  EXPECT_EQ(parse_clock_time("15:04"), hours(15) + minutes(4));
  EXPECT_EQ(parse_clock_time("15:04:05"), hours(15) + minutes(4) + seconds(5));
  EXPECT_EQ(parse_clock_time("15:04:05.25"), hours(15) + minutes(4) + seconds(5) + milliseconds(250));
  EXPECT_EQ(parse_clock_time("2:20:00"), hours(2) + minutes(20));
  EXPECT_EQ(parse_clock_time("3:04 PM"), hours(15) + minutes(4));
  EXPECT_EQ(parse_clock_time("3:04PM"), hours(15) + minutes(4));
  EXPECT_EQ(parse_clock_time("3 PM"), hours(15));
  EXPECT_EQ(parse_clock_time("3PM"), hours(15));
  EXPECT_EQ(parse_clock_time("12 AM"), hours(0));
  EXPECT_EQ(parse_clock_time("12PM"), hours(12));
  for (const char* bad : {"", "15", "24:00", "13PM", "0 AM", "3:4", "3:04 XM", "9:60"})
    EXPECT_FALSE(parse_clock_time(bad)) << bad;
}

TEST(TimeWindow, ParsesDays) {
  EXPECT_EQ(parse_days("*"), 0x7f);
  EXPECT_EQ(parse_days("mon-fri"), 0b0111110);
  EXPECT_EQ(parse_days("Monday,wed,FRI"), 0b0101010);
  EXPECT_EQ(parse_days("fri-mon"), 0b1100011);  // wraps over the weekend
  EXPECT_EQ(parse_days("sun"), 0b0000001);
  for (const char* bad : {"", "mo", "mon-", "funday", "mon,,tue"}) EXPECT_FALSE(parse_days(bad)) << bad;
}

TEST(TimeWindow, DateIsExclusiveAtBothEnds) {
  TimeWindow w;
  ASSERT_EQ(TimeWindow::make_date("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", w), "");
  EXPECT_FALSE(w.matches(at("2026-01-01T00:00:00Z")));
  EXPECT_TRUE(w.matches(at("2026-01-15T00:00:00Z")));
  EXPECT_FALSE(w.matches(at("2026-02-01T00:00:00Z")));
}

TEST(TimeWindow, DaysInAZone) {
  TimeWindow utc, tokyo;
  ASSERT_EQ(TimeWindow::make_days("sat,sun", "", utc), "");
  ASSERT_EQ(TimeWindow::make_days("sat,sun", "Asia/Tokyo", tokyo), "");
  // Friday 20:00 UTC is Saturday 05:00 in Tokyo.
  EXPECT_FALSE(utc.matches(at("2026-12-04T20:00:00Z")));
  EXPECT_TRUE(tokyo.matches(at("2026-12-04T20:00:00Z")));
}

TEST(TimeWindow, TimeOfDayFollowsDaylightSavingAndWrapsMidnight) {
  TimeWindow office;
  ASSERT_EQ(TimeWindow::make_time_of_day("Europe/Paris", "09:00", "18:00", office), "");
  EXPECT_TRUE(office.matches(at("2026-01-15T08:30:00Z")));   // 09:30 CET
  EXPECT_FALSE(office.matches(at("2026-07-15T06:30:00Z")));  // 08:30 CEST
  EXPECT_TRUE(office.matches(at("2026-07-15T07:30:00Z")));   // 09:30 CEST
  TimeWindow night;
  ASSERT_EQ(TimeWindow::make_time_of_day("UTC", "22:00", "06:00", night), "");
  EXPECT_TRUE(night.matches(at("2026-01-15T23:00:00Z")));
  EXPECT_TRUE(night.matches(at("2026-01-15T05:59:00Z")));
  EXPECT_FALSE(night.matches(at("2026-01-15T12:00:00Z")));
  TimeWindow after_only;
  ASSERT_EQ(TimeWindow::make_time_of_day("UTC", "12:00", std::nullopt, after_only), "");
  EXPECT_TRUE(after_only.matches(at("2026-01-15T12:00:00Z")));
  EXPECT_FALSE(after_only.matches(at("2026-01-15T11:59:59Z")));
}

}  // namespace
}  // namespace postern::authz
