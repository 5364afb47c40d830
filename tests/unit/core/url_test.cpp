#include "core/url.h"

#include <gtest/gtest.h>

using postern::core::parse_http_url;

TEST(HttpUrl, ParsesHostPortAndRest) {
  auto u = parse_http_url("https://App.Example.com:8443/a/b?c=d");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "app.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->rest, "/a/b?c=d");
  EXPECT_EQ(u->origin(), "https://app.example.com:8443");
  u = parse_http_url("http://[::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->origin(), "http://[::1]");
}

TEST(HttpUrl, ReadsTheHostABrowserWouldVisit) {
  // Boost.URL 1.81 reads this host as 127.0.0.1; a browser goes to 127.0.0.1.evil.example.
  auto u = parse_http_url("http://127.0.0.1.evil.example:45035/cb");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1.evil.example");
}

TEST(HttpUrl, RejectsAmbiguousForms) {
  EXPECT_FALSE(parse_http_url("http://user@evil.example/"));
  EXPECT_FALSE(parse_http_url("http://good.example\\@evil.example/"));
  EXPECT_FALSE(parse_http_url("//evil.example/"));
  EXPECT_FALSE(parse_http_url("javascript:alert(1)"));
  EXPECT_FALSE(parse_http_url("http://evil.example /"));
  EXPECT_FALSE(parse_http_url("http://evil..example/"));
  EXPECT_FALSE(parse_http_url("http://host:99999/"));
  EXPECT_FALSE(parse_http_url("http://host:/"));
  EXPECT_FALSE(parse_http_url("ftp://host/"));
  EXPECT_FALSE(parse_http_url("http:///path"));
}
