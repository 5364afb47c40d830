#include "core/base64.h"

#include <gtest/gtest.h>

using namespace postern::core;

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64, DecodesWhatItEncodes) {
  const std::string bytes("\x00\x01\xfe\xff hello \x80", 12);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
}

TEST(Base64, DecodeIgnoresLineBreaksFromTheBase64Tool) { EXPECT_EQ(base64_decode("Zm9v\nYmFy\n"), "foobar"); }

TEST(Base64, DecodeRejectsGarbage) {
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  EXPECT_FALSE(base64_decode("Zg==="));
  EXPECT_FALSE(base64_decode("Zh=="));  // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("ab+/"));
}
