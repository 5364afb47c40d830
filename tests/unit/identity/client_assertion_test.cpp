// private_key_jwt client assertions for Okta service apps: RSA and EC P-256 keys, as PEM or JWK, sign a JWT that
// the matching public key verifies with iss = sub = client_id and aud = the token endpoint; keys that cannot sign are
// refused with a sentence that never quotes them.
#include "identity/client_assertion.h"

#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

#include "core/base64.h"

using postern::identity::ClientAssertionSigner;

namespace {

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string new_key_pem(const char* type) {
  EVP_PKEY* key = std::string_view(type) == "RSA" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  std::string pem = pem_of(key);
  EVP_PKEY_free(key);
  return pem;
}

boost::json::object part(const std::string& jwt, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = jwt.find('.', start) + 1;
  const auto end = jwt.find('.', start);
  return boost::json::parse(*postern::core::base64url_decode(jwt.substr(start, end - start))).as_object();
}

std::unique_ptr<ClientAssertionSigner> load(const std::string& key, const std::string& kid = "k1") {
  auto r = ClientAssertionSigner::load(key, kid);
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *e;
    return nullptr;
  }
  return std::move(std::get<0>(r));
}

}  // namespace

TEST(ClientAssertion, RsaAndEcPemKeysSignOktasAssertion) {
  for (const auto* type : {"RSA", "EC"}) {
    const auto signer = load(new_key_pem(type));
    ASSERT_TRUE(signer);
    const auto now = std::chrono::system_clock::now();
    const auto jwt = signer->assertion("0oa123", "https://corp.okta.com/oauth2/v1/token", now);
    const auto header = part(jwt, 0), claims = part(jwt, 1);
    EXPECT_EQ(header.at("alg").as_string(), std::string_view(type) == "RSA" ? "RS256" : "ES256");
    EXPECT_EQ(header.at("kid").as_string(), "k1");
    EXPECT_EQ(claims.at("iss").as_string(), "0oa123");
    EXPECT_EQ(claims.at("sub").as_string(), "0oa123");
    EXPECT_EQ(claims.at("aud").as_string(), "https://corp.okta.com/oauth2/v1/token");
    const auto iat = claims.at("iat").as_int64();
    EXPECT_EQ(claims.at("exp").as_int64() - iat, 300);
    EXPECT_NE(part(signer->assertion("0oa123", "x", now), 1).at("jti"), claims.at("jti"));  // never reused
  }
}

TEST(ClientAssertion, TheSimulatorsJwkSignsAndVerifies) {
  std::ifstream f(POSTERN_SOURCE_DIR "/tests/okta-sim/seed/demo-service-app.private.jwk.json");
  std::stringstream text;
  text << f.rdbuf();
  const auto signer = load(text.str(), "");
  ASSERT_TRUE(signer);
  const auto jwt = signer->assertion("postern-directory-sync", "http://127.0.0.1/oauth2/v1/token",
                                     std::chrono::system_clock::now());
  EXPECT_EQ(part(jwt, 0).at("kid").as_string(), "postern-demo-service-key-1");  // the JWK's own kid
  cjose_err err{};
  cjose_jwk_t* jwk = cjose_jwk_import(text.str().data(), text.str().size(), &err);
  cjose_jws_t* jws = cjose_jws_import(jwt.data(), jwt.size(), &err);
  ASSERT_TRUE(jwk && jws);
  EXPECT_TRUE(cjose_jws_verify(jws, jwk, &err));
  cjose_jws_release(jws);
  cjose_jwk_release(jwk);
}

TEST(ClientAssertion, KeysThatCannotSignAreRefusedWithoutQuotingThem) {
  EVP_PKEY* small = EVP_RSA_gen(1024);
  const std::string small_pem = pem_of(small);
  EVP_PKEY_free(small);
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  const std::string p384_pem = pem_of(p384);
  EVP_PKEY_free(p384);
  const std::string public_jwk = R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRKEU",)"
                                 R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
  for (const auto& bad : {std::string("not a key at all SECRETVALUE"), small_pem, p384_pem, public_jwk,
                          std::string("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}"), std::string("{broken json")}) {
    auto r = ClientAssertionSigner::load(bad, "");
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
    const auto& e = std::get<std::string>(r);
    EXPECT_EQ(e.find("SECRETVALUE"), std::string::npos);
    EXPECT_EQ(e.find("BEGIN"), std::string::npos);
    EXPECT_NE(e.find("private_key"), std::string::npos) << e;
  }
}
