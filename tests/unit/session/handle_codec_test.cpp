#include "session/handle_codec.h"

#include <gtest/gtest.h>

#include "core/random.h"

using namespace postern::session;

namespace {
const std::string key = postern::core::random_bytes(32);
}

TEST(HandleCodec, OpensWhatItSealed) {
  const auto sealed = seal_handle({"sid-1", 2000}, key);
  const auto h = open_handle(sealed, key, 1000);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->session_id, "sid-1");
  EXPECT_EQ(h->expires_at, 2000);
}

TEST(HandleCodec, ExpiredTamperedOrForeignHandlesAreAbsent) {
  const auto sealed = seal_handle({"sid-1", 2000}, key);
  EXPECT_FALSE(open_handle(sealed, key, 2000));
  std::string tampered = sealed;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(open_handle(tampered, key, 1000));
  EXPECT_FALSE(open_handle(sealed, postern::core::random_bytes(32), 1000));
  EXPECT_FALSE(open_handle("", key, 1000));
  EXPECT_FALSE(open_handle("not base64 !!", key, 1000));
  EXPECT_FALSE(open_handle(std::string(5000, 'A'), key, 1000));
}

TEST(HandleCodec, PurposeBindsASealedValue) {
  const auto sealed = seal_json({{"sid", "x"}, {"exp", 2000}}, key, "postern handoff v1");
  EXPECT_TRUE(open_json(sealed, key, "postern handoff v1"));
  EXPECT_FALSE(open_json(sealed, key, "postern sign-in flow v1"));
  EXPECT_FALSE(open_handle(sealed, key, 1000));
}
