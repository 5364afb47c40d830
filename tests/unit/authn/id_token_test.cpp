#include "authn/id_token.h"

#include <cjose/header.h>
#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/base64.h"

using namespace postern::authn;

namespace {

constexpr std::int64_t now = 1'800'000'000;

// A provider with one RSA key, signing tokens the way an OpenID Provider does.
class Provider {
 public:
  Provider() {
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err err{};
    key_ = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_jwk_set_kid(key_, "k1", 2, &err);
    char* pub = cjose_jwk_to_json(key_, false, &err);
    jwks_.push_back({"k1", "RSA", "RS256", "sig", pub});
    free(pub);
    metadata_.issuer = "https://idp.example.com";
    metadata_.id_token_signing_alg_values_supported = {"RS256"};
  }
  ~Provider() { cjose_jwk_release(key_); }

  std::string sign(const boost::json::object& claims, const char* alg = "RS256", const char* kid = "k1",
                   cjose_jwk_t* key = nullptr) const {
    cjose_err err{};
    cjose_header_t* h = cjose_header_new(&err);
    cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
    if (kid) cjose_header_set(h, CJOSE_HDR_KID, kid, &err);
    const std::string payload = boost::json::serialize(claims);
    cjose_jws_t* jws = cjose_jws_sign(key ? key : key_, h, reinterpret_cast<const uint8_t*>(payload.data()),
                                      payload.size(), &err);
    cjose_header_release(h);
    const char* compact = nullptr;
    cjose_jws_export(jws, &compact, &err);
    std::string out = compact;
    cjose_jws_release(jws);
    return out;
  }

  static boost::json::object good_claims() {
    return {{"iss", "https://idp.example.com"}, {"aud", "client-1"}, {"sub", "00u1"},
            {"exp", now + 300},                 {"iat", now},        {"nonce", "n-1"}};
  }

  IdTokenCheck check(const std::string& token, std::string_view nonce = "n-1") const {
    return validate_id_token(token, metadata_, jwks_, "client-1", nonce, now);
  }

  ProviderMetadata metadata_;
  std::vector<Jwk> jwks_;

 private:
  cjose_jwk_t* key_ = nullptr;
};

boost::json::object with(boost::json::object o, std::string_view k, boost::json::value v) {
  o[k] = std::move(v);
  return o;
}

boost::json::object without(boost::json::object o, std::string_view k) {
  o.erase(k);
  return o;
}

}  // namespace

TEST(IdToken, AcceptsAWellFormedToken) {
  Provider p;
  const auto c = p.check(p.sign(Provider::good_claims()));
  EXPECT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.claims.at("sub").as_string(), "00u1");
}

TEST(IdToken, RejectsEachClaimDefect) {
  Provider p;
  const auto g = Provider::good_claims();
  EXPECT_FALSE(p.check(p.sign(with(g, "iss", "https://evil.example.com"))).ok);
  EXPECT_FALSE(p.check(p.sign(with(g, "aud", "someone-else"))).ok);
  EXPECT_FALSE(p.check(p.sign(with(g, "aud", boost::json::array{"client-1", "other"}))).ok) << "several aud, no azp";
  EXPECT_TRUE(p.check(p.sign(with(with(g, "aud", boost::json::array{"client-1", "other"}), "azp", "client-1"))).ok);
  EXPECT_FALSE(p.check(p.sign(with(g, "azp", "other"))).ok);
  EXPECT_FALSE(p.check(p.sign(with(g, "exp", now - 120))).ok);
  EXPECT_TRUE(p.check(p.sign(with(g, "exp", now - 30))).ok) << "small clock skew tolerated";
  EXPECT_FALSE(p.check(p.sign(with(g, "iat", now + 600))).ok);
  EXPECT_FALSE(p.check(p.sign(without(g, "iat"))).ok);
  EXPECT_FALSE(p.check(p.sign(without(g, "exp"))).ok);
  EXPECT_FALSE(p.check(p.sign(without(g, "sub"))).ok);
  EXPECT_FALSE(p.check(p.sign(with(g, "sub", ""))).ok);
  EXPECT_FALSE(p.check(p.sign(g), "another-nonce").ok);
  EXPECT_FALSE(p.check(p.sign(without(g, "nonce"))).ok);
}

TEST(IdToken, RejectsAlgNoneAndHmacWithTheClientSecret) {
  Provider p;
  const std::string payload = boost::json::serialize(Provider::good_claims());
  const std::string none = postern::core::base64url_encode(R"({"alg":"none"})") + "." +
                           postern::core::base64url_encode(payload) + ".";
  EXPECT_FALSE(p.check(none).ok);

  const std::string secret = "the-client-secret-0123456789abcdef";
  cjose_err err{};
  cjose_jwk_t* oct = cjose_jwk_create_oct_spec(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), &err);
  const std::string hs = p.sign(Provider::good_claims(), "HS256", "k1", oct);
  cjose_jwk_release(oct);
  EXPECT_FALSE(p.check(hs).ok);
  // Even a provider that (wrongly) advertises HS256 does not get HMAC tokens accepted.
  p.metadata_.id_token_signing_alg_values_supported.push_back("HS256");
  EXPECT_FALSE(p.check(hs).ok);
}

TEST(IdToken, RejectsABadSignatureAndReportsAnUnknownKid) {
  Provider p, other;
  const auto forged = p.check(other.sign(Provider::good_claims()));
  EXPECT_FALSE(forged.ok);
  EXPECT_FALSE(forged.unknown_kid);
  const auto rotated = p.check(p.sign(Provider::good_claims(), "RS256", "k2"));
  EXPECT_FALSE(rotated.ok);
  EXPECT_TRUE(rotated.unknown_kid);
}

TEST(IdToken, RejectsGarbage) {
  Provider p;
  EXPECT_FALSE(p.check("").ok);
  EXPECT_FALSE(p.check("a.b").ok);
  EXPECT_FALSE(p.check("!!.??.**").ok);
  EXPECT_FALSE(p.check(std::string(20000, 'a')).ok);
}

TEST(ProviderMetadata, IssuerMustMatchTheConfiguredUrl) {
  std::string error;
  const std::string doc = R"({"issuer":"https://org.okta.com","authorization_endpoint":"https://org.okta.com/oauth2/v1/authorize",
    "token_endpoint":"https://org.okta.com/oauth2/v1/token","jwks_uri":"https://org.okta.com/oauth2/v1/keys"})";
  EXPECT_TRUE(parse_provider_metadata(doc, "https://org.okta.com/", error));
  EXPECT_FALSE(parse_provider_metadata(doc, "https://org.okta.com/oauth2/default", error));
  EXPECT_FALSE(parse_provider_metadata("[]", "https://org.okta.com", error));
}

// OpenID Connect Core §12.2: a refreshed ID token is checked like a sign-in's, then against the one it replaces.
namespace {
IdTokenCheck check_refresh(const Provider& p, const boost::json::object& claims,
                           const boost::json::object& previous = Provider::good_claims()) {
  return validate_refreshed_id_token(p.sign(claims), p.metadata_, p.jwks_, "client-1", previous, "n-1", now + 10);
}
boost::json::object refreshed_claims() {
  return with(without(Provider::good_claims(), "nonce"), "iat", now + 10);
}
}  // namespace

TEST(IdTokenRefresh, AcceptsATokenWithoutNonceOrWithTheSignInsNonce) {
  Provider p;
  EXPECT_TRUE(check_refresh(p, refreshed_claims()).ok);
  EXPECT_TRUE(check_refresh(p, with(refreshed_claims(), "nonce", "n-1")).ok);
}

TEST(IdTokenRefresh, RefusesAnotherSubjectIssuerAudienceOrAuthTime) {
  Provider p;
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "sub", "00u2")).ok);
  auto previous_with_two = with(Provider::good_claims(), "aud", boost::json::array{"client-1", "other"});
  previous_with_two["azp"] = "client-1";
  EXPECT_FALSE(check_refresh(p, refreshed_claims(), previous_with_two).ok);  // aud changed
  auto previous_auth = with(Provider::good_claims(), "auth_time", now - 100);
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "auth_time", now), previous_auth).ok);
  EXPECT_TRUE(check_refresh(p, with(refreshed_claims(), "auth_time", now - 100), previous_auth).ok);
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "azp", "client-1")).ok);  // azp appeared
}

TEST(IdTokenRefresh, RefusesAnotherNonceAnOlderTokenAndEverythingASignInRefuses) {
  Provider p;
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "nonce", "n-2")).ok);
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "iat", now - 10)).ok);
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "exp", now - 100)).ok);
  EXPECT_FALSE(check_refresh(p, with(refreshed_claims(), "iss", "https://evil.example.com")).ok);
  auto forged = p.sign(refreshed_claims());
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(validate_refreshed_id_token(forged, p.metadata_, p.jwks_, "client-1", Provider::good_claims(), "n-1",
                                           now + 10)
                   .ok);
}
