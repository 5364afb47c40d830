#include "session/claims.h"

#include <gtest/gtest.h>

namespace postern::session {
namespace {

TEST(Claims, FlattensNestedObjectsAndLists) {
  const auto c = Claims::from_json(
      R"({"sub":"00u1","groups":["a","b"],"address":{"country":"FR","geo":{"lat":1.5}},"n":3,"ok":true,"x":null,
          "mixed":["s",2,{"o":1},null]})");
  ASSERT_TRUE(c.find("groups"));
  EXPECT_EQ(c.find("groups")->size(), 2u);
  EXPECT_TRUE(c.find("groups")->contains("b"));
  EXPECT_TRUE(c.find("address/country")->contains("FR"));
  EXPECT_TRUE(c.find("address/geo/lat")->contains("1.5"));
  EXPECT_TRUE(c.find("n")->contains("3"));
  EXPECT_TRUE(c.find("ok")->contains("true"));
  EXPECT_EQ(c.find("x"), nullptr);
  EXPECT_EQ(c.find("address"), nullptr);
  EXPECT_EQ(c.find("mixed")->size(), 2u);  // "s" and "2"
  EXPECT_EQ(c.find("missing"), nullptr);
}

TEST(Claims, StopsAtFiveLevelsAndToleratesGarbage) {
  const auto deep = Claims::from_json(R"({"a":{"b":{"c":{"d":{"e":"five","f":{"g":"six"}}}}}})");
  EXPECT_TRUE(deep.find("a/b/c/d/e"));
  EXPECT_EQ(deep.find("a/b/c/d/f/g"), nullptr);
  EXPECT_EQ(Claims::from_json("not json").size(), 0u);
  EXPECT_EQ(Claims::from_json("[1,2]").size(), 0u);
}

TEST(StringSet, MembershipAtEverySize) {
  for (int n : {0, 1, 8, 9, 200}) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back("g" + std::to_string(i * 7 % 1000));
    const core::StringSet s(v);
    for (const auto& x : v) EXPECT_TRUE(s.contains(x));
    EXPECT_FALSE(s.contains("nope"));
    EXPECT_EQ(s.size(), v.size());
  }
}

}  // namespace
}  // namespace postern::session
