#include "proxy/cookies.h"

#include <gtest/gtest.h>

using namespace postern;
namespace http = boost::beast::http;

TEST(Cookies, FindsANamedCookieAcrossHeaders) {
  proxy::Fields f;
  f.insert(http::field::cookie, "a=1; _pomerium=abc");
  f.insert(http::field::cookie, "b=\"2\"");
  EXPECT_EQ(proxy::find_cookie(f, "_pomerium"), "abc");
  EXPECT_EQ(proxy::find_cookie(f, "b"), "2");
  EXPECT_FALSE(proxy::find_cookie(f, "_pomerium_csrf"));
  EXPECT_FALSE(proxy::find_cookie(f, "_pom"));
}

TEST(Cookies, RemovesOnlyTheNamedOnesKeepingOrder) {
  proxy::Fields f;
  f.insert(http::field::cookie, "other=kept; _pomerium=x; another=also; _pomerium_csrf=y");
  proxy::remove_cookies(f, {"_pomerium", "_pomerium_csrf"});
  EXPECT_EQ(f[http::field::cookie], "other=kept; another=also");
  proxy::Fields only;
  only.insert(http::field::cookie, "_pomerium=x");
  proxy::remove_cookies(only, {"_pomerium"});
  EXPECT_EQ(only.count(http::field::cookie), 0u) << "an emptied Cookie header goes away";
}

TEST(Cookies, RemovalAcrossHeadersAndNothingToRemove) {
  proxy::Fields f;
  f.insert(http::field::cookie, "_pomerium=x");
  f.insert(http::field::cookie, "a=1; _pomerium_csrf_abc=z; b=2");
  proxy::remove_cookies(f, {"_pomerium"}, "_pomerium_csrf_");
  ASSERT_EQ(f.count(http::field::cookie), 1u);
  EXPECT_EQ(f[http::field::cookie], "a=1; b=2");
  proxy::Fields untouched;
  untouched.insert(http::field::cookie, "a=1;b=2 ;  ; c");
  proxy::remove_cookies(untouched, {"_pomerium"}, "_pomerium_csrf_");
  EXPECT_EQ(untouched[http::field::cookie], "a=1;b=2 ;  ; c") << "left as it was, spacing included";
}

TEST(Cookies, SetCookieCarriesTheConfiguredAttributes) {
  config::Settings s;
  EXPECT_EQ(proxy::set_cookie({"_pomerium", "v", std::chrono::seconds(60), true, "example.com"}, s),
            "_pomerium=v; Path=/; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Lax");
  s.cookie_http_only = false;
  s.cookie_same_site = "strict";
  EXPECT_EQ(proxy::set_cookie({"c", "v", std::chrono::seconds(5), false, ""}, s), "c=v; Path=/; Max-Age=5; SameSite=Strict");
  EXPECT_EQ(proxy::set_cookie({"c", "", std::chrono::seconds(0), false, ""}, s),
            "c=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict");
  s.cookie_same_site = "none";
  EXPECT_EQ(proxy::set_cookie({"c", "v", std::chrono::seconds(5), false, ""}, s), "c=v; Path=/; Max-Age=5")
      << "SameSite=None is only valid with Secure";
}
