#include "core/duration.h"

#include <gtest/gtest.h>

using namespace postern::core;
using namespace std::chrono_literals;

TEST(Duration, ParsesGoDurations) {
  EXPECT_EQ(parse_duration("30s"), Duration(30s));
  EXPECT_EQ(parse_duration("1m30s"), Duration(90s));
  EXPECT_EQ(parse_duration("14h"), Duration(14h));
  EXPECT_EQ(parse_duration("1.5h"), Duration(90min));
  EXPECT_EQ(parse_duration("250ms"), Duration(250ms));
  EXPECT_EQ(parse_duration("0"), Duration(0));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(Duration, RejectsMissingUnitsNegativesAndNonsense) {
  EXPECT_FALSE(parse_duration("30"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("abc"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("1d"));
  EXPECT_FALSE(parse_duration("99999999999h"));
}

TEST(Duration, FormatsCanonically) {
  EXPECT_EQ(format_duration(Duration(90s)), "1m30s");
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  EXPECT_EQ(format_duration(Duration(250ms)), "250ms");
}
