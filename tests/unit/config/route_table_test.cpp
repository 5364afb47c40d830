#include "config/route_table.h"

#include <gtest/gtest.h>

#include "config/loader.h"

using namespace postern::config;
using namespace std::chrono_literals;

namespace {

RouteTable table(const std::string& yaml) {
  auto s = load_settings_from_text(yaml, "t.yaml", Environment());
  return RouteTable(s.routes, s.default_upstream_timeout);
}

std::string matched_to(const RouteTable& t, std::string_view host, std::uint16_t port, std::string_view path) {
  const auto m = t.match(host, port, path);
  return m.route ? m.route->settings().to.front().host : (m.host_known ? "path-miss" : "host-miss");
}

}  // namespace

TEST(RouteTable, FirstMatchInConfigOrderByHostThenPath) {
  const auto t = table(R"(
routes:
  - from: https://app.example.com
    prefix: /api/
    to: http://api
  - from: https://app.example.com
    path: /exact
    to: http://exact
  - from: https://app.example.com
    regex: "/files/[0-9]+"
    to: http://files
  - from: https://*.example.com
    to: http://wild
  - from: https://app.example.com
    to: http://never
)");
  EXPECT_EQ(matched_to(t, "app.example.com", 443, "/api/x"), "api");
  EXPECT_EQ(matched_to(t, "app.example.com", 443, "/exact"), "exact");
  EXPECT_EQ(matched_to(t, "app.example.com", 443, "/files/12"), "files");
  EXPECT_EQ(matched_to(t, "app.example.com", 443, "/files/12/x"), "wild");  // regex is anchored
  EXPECT_EQ(matched_to(t, "app.example.com", 443, "/other"), "wild");
  EXPECT_EQ(matched_to(t, "a.b.example.com", 443, "/"), "wild");
  EXPECT_EQ(matched_to(t, "example.com", 443, "/"), "host-miss");
}

TEST(RouteTable, PortRules) {
  const auto t = table(R"(
routes:
  - from: https://a.example.com:8443
    to: http://with-port
  - from: https://b.example.com
    to: http://any-port
)");
  EXPECT_EQ(matched_to(t, "a.example.com", 8443, "/"), "with-port");
  EXPECT_EQ(matched_to(t, "a.example.com", 443, "/"), "host-miss");
  EXPECT_EQ(matched_to(t, "b.example.com", 443, "/"), "any-port");
  EXPECT_EQ(matched_to(t, "b.example.com", 9999, "/"), "any-port");
}

TEST(RouteTable, PathMissOnAKnownHostIsReported) {
  const auto t = table("routes:\n  - from: https://a.example.com\n    prefix: /only\n    to: http://x\n");
  EXPECT_EQ(matched_to(t, "a.example.com", 443, "/else"), "path-miss");
}

TEST(RouteTable, PrefixRewriteReplacesTheMatchedPrefix) {
  const auto t = table(R"(
routes:
  - from: https://a.example.com
    prefix: /app/
    prefix_rewrite: /
    to: http://x
  - from: https://b.example.com
    to: http://x/base/
  - from: https://c.example.com
    regex_rewrite_pattern: "^/service/([^/]+)(/.*)$"
    regex_rewrite_substitution: "\\2/instance/\\1"
    to: http://x
)");
  EXPECT_EQ(t.routes()[0].rewrite_path("/app/page"), "/page");
  EXPECT_EQ(t.routes()[1].rewrite_path("/page"), "/base/page");
  EXPECT_EQ(t.routes()[2].rewrite_path("/service/foo/v1/api"), "/v1/api/instance/foo");
  EXPECT_EQ(t.routes()[2].rewrite_path("/other"), "/other");
}

TEST(RouteTable, WebsocketRoutesHaveNoRouteTimeoutUnlessSet) {
  const auto t = table(R"(
routes:
  - from: https://a.example.com
    to: http://x
    allow_websockets: true
  - from: https://b.example.com
    to: http://x
    timeout: 5s
)");
  EXPECT_EQ(t.routes()[0].timeout(), Duration(0));
  EXPECT_EQ(t.routes()[1].timeout(), Duration(5s));
}

TEST(HostHeader, ParsesNamesPortsAndIpv6) {
  auto h = parse_host_header("App.Example.com:8443");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "app.example.com");
  EXPECT_EQ(h->port, 8443);
  h = parse_host_header("[::1]:80");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "::1");
  EXPECT_FALSE(parse_host_header(""));
  EXPECT_FALSE(parse_host_header("a b"));
  EXPECT_FALSE(parse_host_header("host:99999"));
  EXPECT_FALSE(parse_host_header("host:"));
  EXPECT_FALSE(parse_host_header("evil.com/path"));
}

TEST(NormalizePath, RemovesDotSegmentsAndMergesSlashes) {
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/./b/"), "/a/b/");
  EXPECT_EQ(normalize_path("//a///b"), "/a/b");
  EXPECT_EQ(normalize_path("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path(""), "/");
}

TEST(NormalizePath, DecodesUnreservedEscapesAndRefusesEncodedSlashes) {
  // The path-confusion list: each is /admin to routing and policy.
  for (const char* p : {"/%61dmin", "//admin", "/./admin", "/x/../admin", "/%2e/admin", "/x/%2E%2E/admin", "/%61%64%6d%69%6e"})
    EXPECT_EQ(normalize_path(p), "/admin") << p;
  EXPECT_EQ(normalize_path("/ADMIN"), "/ADMIN");  // case is kept
  EXPECT_EQ(normalize_path("/a%20b%c3%a9"), "/a%20b%C3%A9");  // other escapes kept, hex upper case
  EXPECT_EQ(normalize_path("/%7Euser"), "/~user");
  for (const char* p : {"/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb", "/a%", "/a%2", "/a%zz", "/a%G0", "/public\\..\\admin",
                        "/a\\b", "/a#b"})
    EXPECT_EQ(normalize_path(p), std::nullopt) << p;
}
