#include "core/strings.h"

#include <gtest/gtest.h>

using namespace postern::core;

TEST(Strings, SplitTrimmedDropsEmptyPieces) {
  EXPECT_EQ(split_trimmed(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_trimmed("", ',').empty());
}

TEST(Strings, JsonEscapeNeutralisesControlCharactersAndQuotes) {
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
}

TEST(Strings, HtmlEscapeNeutralisesMarkup) { EXPECT_EQ(html_escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;"); }

TEST(Strings, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("a", "ab"));
}
