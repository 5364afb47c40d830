#include "store/session_codec.h"

#include <gtest/gtest.h>

namespace postern::store {
namespace {

using session::Clock;

session::Session sample() {
  session::Session s;
  s.id = "sid-123";
  s.user_id = "00u1";
  s.email = "alice@example.com";
  s.name = "Alice";
  s.id_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIwMHUxIn0.c2ln";
  s.set_claims(R"({"email":"alice@example.com","groups":["Engineering","Ops"]})");
  s.access_token = "access";
  s.refresh_token = "refresh";
  s.nonce = "n-1";
  s.issued_at = Clock::time_point(std::chrono::milliseconds(1'800'000'000'123));
  s.expires_at = s.issued_at + std::chrono::hours(14);
  s.tokens_expire_at = s.issued_at + std::chrono::hours(1);
  s.refresh_due_at = s.issued_at + std::chrono::minutes(55);
  s.refresh_failures = 2;
  s.version = 9;
  return s;
}

TEST(SessionCodec, RoundTripsEveryField) {
  const auto key = session_sealing_key(std::string(32, 'k'));
  const auto s = sample();
  auto back = open_session(seal_session(s, key), s.id, key);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->user_id, s.user_id);
  EXPECT_EQ(back->email, s.email);
  ASSERT_TRUE(back->claims.find("groups"));
  EXPECT_EQ(back->claims.find("groups")->size(), 2u);
  EXPECT_EQ(back->claims_json(), s.claims_json());
  EXPECT_EQ(back->id_token.text(), s.id_token.text());
  EXPECT_EQ(back->id_token.text(), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIwMHUxIn0.c2ln");
  EXPECT_EQ(back->access_token, s.access_token);
  EXPECT_EQ(back->refresh_token, s.refresh_token);
  EXPECT_EQ(back->nonce, s.nonce);
  EXPECT_EQ(back->issued_at, s.issued_at);
  EXPECT_EQ(back->expires_at, s.expires_at);
  EXPECT_EQ(back->tokens_expire_at, s.tokens_expire_at);
  EXPECT_EQ(back->refresh_due_at, s.refresh_due_at);
  EXPECT_EQ(back->refresh_failures, 2u);
  EXPECT_EQ(back->version, 9u);
}

TEST(SessionCodec, SealedRecordsHideTokensAndRefuseTamperingMovingOrAnotherKey) {
  const auto key = session_sealing_key(std::string(32, 'k'));
  const auto s = sample();
  const auto sealed = seal_session(s, key);
  EXPECT_EQ(sealed.find("eyJ"), std::string::npos);
  EXPECT_EQ(sealed.find("alice"), std::string::npos);
  EXPECT_EQ(open_session(sealed, "another-id", key), nullptr);  // bound to its id
  EXPECT_EQ(open_session(sealed, s.id, session_sealing_key(std::string(32, 'x'))), nullptr);
  auto altered = sealed;
  altered[altered.size() / 2] ^= 1;
  EXPECT_EQ(open_session(altered, s.id, key), nullptr);
  EXPECT_EQ(open_session("", s.id, key), nullptr);
}

TEST(SessionCodec, RefusesRecordsOfAnotherFormat) {
  EXPECT_EQ(decode_session("{}"), nullptr);
  EXPECT_EQ(decode_session(R"({"v":2,"id":"a","iat":1,"exp":2,"ver":1})"), nullptr);
  EXPECT_EQ(decode_session("not json"), nullptr);
  EXPECT_NE(decode_session(R"({"v":1,"id":"a","iat":1,"exp":2,"ver":1})"), nullptr);
}

}  // namespace
}  // namespace postern::store
