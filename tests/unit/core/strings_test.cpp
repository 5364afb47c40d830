#include "core/strings.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace postern::core;

TEST(Strings, SplitTrimmedDropsEmptyPieces) {
  EXPECT_EQ(split_trimmed(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_trimmed("", ',').empty());
}

TEST(Strings, JsonEscapeNeutralisesControlCharactersAndQuotes) {
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
}

// Every byte value at every offset of a 19-byte string (so each lands in both the 8-byte fast path and the tail)
// escapes exactly as a byte-at-a-time reference does.
TEST(Strings, JsonEscapeMatchesAByteWiseReference) {
  auto reference = [](std::string_view s) {
    std::string out;
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else out += ch;
    }
    return out;
  };
  for (int byte = 0; byte < 256; ++byte) {
    for (std::size_t pos = 0; pos < 19; ++pos) {
      std::string s(19, 'a');
      s[pos] = static_cast<char>(byte);
      ASSERT_EQ(json_escape(s), reference(s)) << "byte " << byte << " at " << pos;
    }
  }
  // Every length around the word size, with an escaped byte anywhere (or two), and clean strings.
  for (std::size_t len = 0; len <= 25; ++len) {
    const std::string clean(len, 'x');
    ASSERT_EQ(json_escape(clean), clean);
    for (const int byte : {0, int{'"'}, int{'\\'}, int{'\n'}, 0x1f, 0x7f, 0x80, 0xff}) {
      for (std::size_t pos = 0; pos < len; ++pos) {
        std::string s(len, 'b');
        s[pos] = static_cast<char>(byte);
        ASSERT_EQ(json_escape(s), reference(s)) << "len " << len << " byte " << byte << " at " << pos;
        s[len - 1 - pos] = '"';
        ASSERT_EQ(json_escape(s), reference(s)) << "len " << len << " two at " << pos;
      }
    }
  }
  std::string out(max_json_escaped_size(3), '?');
  EXPECT_EQ(json_escape_into(out.data(), std::string_view("\0\0\0", 3)), 18u);
  EXPECT_EQ(out, "\\u0000\\u0000\\u0000");
}

TEST(Strings, HtmlEscapeNeutralisesMarkup) { EXPECT_EQ(html_escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;"); }

TEST(Strings, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("a", "ab"));
}

// Every byte value, at every position of the eight-byte words and of the tail: exactly the control characters
// (below 0x20 but HTAB, and DEL) are found.
TEST(HasControlCharacters, EveryByteAtEveryPosition) {
  for (int b = 0; b < 256; ++b) {
    const bool control = (b < 0x20 && b != '\t') || b == 0x7f;
    for (std::size_t len : {1u, 7u, 8u, 9u, 16u, 23u}) {
      for (std::size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(b);
        ASSERT_EQ(postern::core::has_control_characters(s), control) << "byte " << b << " at " << at << " of " << len;
      }
    }
  }
  EXPECT_FALSE(postern::core::has_control_characters(""));
  EXPECT_FALSE(postern::core::has_control_characters("\t\t\t\t\t\t\t\t\t tabs are fine \xff\x80"));
}
