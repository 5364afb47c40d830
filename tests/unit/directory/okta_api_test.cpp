#include "directory/okta_api.h"

#include <gtest/gtest.h>

#include <vector>

namespace postern::directory {
namespace {

TEST(OktaApi, OrgUrlFromAnyAuthorizationServer) {
  EXPECT_EQ(org_url("https://corp.okta.com"), "https://corp.okta.com");
  EXPECT_EQ(org_url("https://corp.okta.com/oauth2/default"), "https://corp.okta.com");
  EXPECT_EQ(org_url("http://127.0.0.1:8082/oauth2/aus1abc"), "http://127.0.0.1:8082");
  EXPECT_EQ(org_url("not a url"), "");
}

TEST(OktaApi, NextLinkInSeparateOrJoinedHeaders) {
  const std::string origin = "https://corp.okta.com";
  const std::vector<std::string_view> separate = {
      R"(<https://corp.okta.com/api/v1/groups?limit=200>; rel="self")",
      R"(<https://corp.okta.com/api/v1/groups?after=00g2&limit=200>; rel="next")"};
  EXPECT_EQ(next_link(separate, origin), "https://corp.okta.com/api/v1/groups?after=00g2&limit=200");
  const std::vector<std::string_view> joined = {
      R"(<https://corp.okta.com/api/v1/users?limit=2>; rel="self", <https://corp.okta.com/api/v1/users?after=x,y&limit=2>; rel=next)"};
  EXPECT_EQ(next_link(joined, origin), "https://corp.okta.com/api/v1/users?after=x,y&limit=2");
  const std::vector<std::string_view> last = {R"(<https://corp.okta.com/api/v1/users?limit=2>; rel="self")"};
  EXPECT_EQ(next_link(last, origin), std::nullopt);
  // A next page on another host would receive the API token: not followed.
  const std::vector<std::string_view> elsewhere = {R"(<https://evil.example/api/v1/users?after=1>; rel="next")"};
  EXPECT_EQ(next_link(elsewhere, origin), std::nullopt);
  const std::vector<std::string_view> garbage = {"<", ">; rel=next", "no brackets; rel=\"next\"", ""};
  EXPECT_EQ(next_link(garbage, origin), std::nullopt);
}

TEST(OktaApi, RateLimitBuckets) {
  EXPECT_EQ(rate_limit_bucket("/api/v1/groups"), "/api/v1/groups");
  EXPECT_EQ(rate_limit_bucket("/api/v1/groups?limit=200&after=x"), "/api/v1/groups");
  EXPECT_EQ(rate_limit_bucket("/api/v1/groups/00g1/users"), "/api/v1/groups/{id}");
  EXPECT_EQ(rate_limit_bucket("/api/v1/users"), "/api/v1/users");
  EXPECT_EQ(rate_limit_bucket("/api/v1/users/00u1"), "/api/v1/users/{id}");
  EXPECT_EQ(rate_limit_bucket("/api/v1/users/00u1/groups"), "/api/v1");
  EXPECT_EQ(rate_limit_bucket("/api/v1/logs?since=x"), "/api/v1/logs");
  EXPECT_EQ(rate_limit_bucket("/oauth2/v1/token"), "/oauth2/v1/token");
}

}  // namespace
}  // namespace postern::directory
