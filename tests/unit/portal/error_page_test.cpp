#include "portal/error_page.h"

#include <gtest/gtest.h>

using namespace postern::portal;

TEST(ErrorPage, PrefersJsonOnlyWhenRankedAboveHtml) {
  EXPECT_TRUE(prefers_json("application/json"));
  EXPECT_TRUE(prefers_json("application/problem+json"));
  EXPECT_TRUE(prefers_json("text/html;q=0.5, application/json"));
  EXPECT_FALSE(prefers_json("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  EXPECT_FALSE(prefers_json("*/*"));
  EXPECT_FALSE(prefers_json(""));
}

TEST(ErrorPage, HtmlCarriesStatusSentenceAndEscapedRequestId) {
  const auto page = render_error(502, "Upstream <down>.", "id<1>", false);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("502 Bad Gateway"), std::string::npos);
  EXPECT_NE(page.body.find("Upstream &lt;down&gt;."), std::string::npos);
  EXPECT_NE(page.body.find("id&lt;1&gt;"), std::string::npos);
}

TEST(ErrorPage, JsonCarriesStatusAndRequestId) {
  const auto page = render_error(504, "Too slow.", "abc", true);
  EXPECT_EQ(page.content_type, "application/json");
  EXPECT_EQ(page.body, "{\"status\":504,\"error\":\"Gateway Timeout\",\"message\":\"Too slow.\",\"request_id\":\"abc\"}\n");
}
