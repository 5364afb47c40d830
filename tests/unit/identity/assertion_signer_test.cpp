#include "identity/assertion_signer.h"

#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/random.h"

using postern::identity::AssertionSigner;

TEST(AssertionSigner, ReplicasWithTheSameSharedSecretAgreeOnTheKey) {
  const std::string secret = postern::core::random_bytes(32);
  AssertionSigner a("", secret), b("", secret), other("", postern::core::random_bytes(32));
  EXPECT_EQ(a.kid(), b.kid());
  EXPECT_EQ(a.jwks_json(), b.jwks_json());
  EXPECT_NE(a.kid(), other.kid());
  EXPECT_EQ(a.jwks_json().find("\"d\""), std::string::npos) << "no private key in the JWKS";
}

TEST(AssertionSigner, SignaturesVerifyWithThePublishedKey) {
  AssertionSigner signer("", postern::core::random_bytes(32));
  const std::string claims = R"({"sub":"00u1","iss":"app.example.com"})";
  const std::string jwt = signer.sign(claims);
  ASSERT_FALSE(jwt.empty());
  const auto jwks = boost::json::parse(signer.jwks_json());
  const std::string key = boost::json::serialize(jwks.at("keys").at(0));
  cjose_err err{};
  cjose_jwk_t* jwk = cjose_jwk_import(key.data(), key.size(), &err);
  ASSERT_NE(jwk, nullptr);
  cjose_jws_t* jws = cjose_jws_import(jwt.data(), jwt.size(), &err);
  ASSERT_NE(jws, nullptr);
  EXPECT_TRUE(cjose_jws_verify(jws, jwk, &err));
  uint8_t* plain = nullptr;
  size_t len = 0;
  ASSERT_TRUE(cjose_jws_get_plaintext(jws, &plain, &len, &err));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain), len), claims);
  cjose_jws_release(jws);
  cjose_jwk_release(jwk);
}
