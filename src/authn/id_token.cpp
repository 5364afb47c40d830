#include "authn/id_token.h"

#include <cjose/jwk.h>
#include <cjose/jws.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "core/base64.h"
#include "core/constant_time.h"
#include "core/json.h"

namespace postern::authn {
namespace {

IdTokenCheck fail(std::string why) {
  IdTokenCheck c;
  c.error = std::move(why);
  return c;
}

std::string key_type_for(std::string_view alg) {
  if (alg.starts_with("RS") || alg.starts_with("PS")) return "RSA";
  if (alg.starts_with("ES")) return "EC";
  return {};
}

}  // namespace

namespace {

std::optional<std::int64_t> int_claim(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  return std::nullopt;
}

// Everything but the nonce: signature, iss, aud/azp, exp, iat, sub.
IdTokenCheck verify_id_token(std::string_view token, const ProviderMetadata& metadata, const std::vector<Jwk>& keys,
                             std::string_view client_id, std::int64_t now) {
  if (token.empty() || token.size() > max_id_token_size) return fail("the ID token is missing or too large");
  if (std::count(token.begin(), token.end(), '.') != 2) return fail("the ID token is not a compact JWS");
  // Every segment must be strict base64url before cjose sees it: cjose 0.6 aborts on some malformed input.
  const auto first_dot = token.find('.');
  const auto second_dot = token.find('.', first_dot + 1);
  if (!core::base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1)) ||
      !core::base64url_decode(token.substr(second_dot + 1)))
    return fail("the ID token is not valid base64url");
  const auto header_b64 = token.substr(0, first_dot);
  auto header_text = core::base64url_decode(header_b64);
  if (!header_text) return fail("the ID token header is not base64url");
  boost::system::error_code ec;
  auto header = boost::json::parse(*header_text, ec);
  if (ec || !header.is_object()) return fail("the ID token header is not a JSON object");
  const auto* alg_v = header.as_object().if_contains("alg");
  if (!alg_v || !alg_v->is_string()) return fail("the ID token header has no alg");
  const std::string alg(alg_v->as_string());
  const auto& allowed = metadata.id_token_signing_alg_values_supported;
  const std::string kty = key_type_for(alg);
  if (alg == "none" || kty.empty()) return fail("the ID token uses algorithm \"" + alg + "\", which is never accepted");
  if (std::find(allowed.begin(), allowed.end(), alg) == allowed.end())
    return fail("the ID token uses algorithm \"" + alg + "\", which the provider does not advertise");
  std::string kid;
  if (const auto* k = header.as_object().if_contains("kid"); k && k->is_string()) kid = std::string(k->as_string());

  const Jwk* key = nullptr;
  std::size_t candidates = 0;
  for (const auto& k : keys) {
    if (k.kty != kty || (!k.use.empty() && k.use != "sig") || (!k.alg.empty() && k.alg != alg)) continue;
    if (!kid.empty() ? k.kid == kid : true) {
      ++candidates;
      if (!key) key = &k;
    }
  }
  if (!key || (kid.empty() && candidates != 1)) {
    IdTokenCheck c = fail("no signing key in the provider's JWKS matches the ID token's kid");
    c.unknown_kid = true;
    return c;
  }

  cjose_err err{};
  cjose_jwk_t* jwk = cjose_jwk_import(key->json.data(), key->json.size(), &err);
  if (!jwk) return fail("the provider's signing key could not be imported");
  cjose_jws_t* jws = cjose_jws_import(token.data(), token.size(), &err);
  if (!jws) {
    cjose_jwk_release(jwk);
    return fail("the ID token could not be parsed");
  }
  const bool verified = cjose_jws_verify(jws, jwk, &err);
  uint8_t* plain = nullptr;
  size_t plain_len = 0;
  const bool got_payload = verified && cjose_jws_get_plaintext(jws, &plain, &plain_len, &err);
  std::string payload = got_payload ? std::string(reinterpret_cast<const char*>(plain), plain_len) : std::string();
  cjose_jws_release(jws);
  cjose_jwk_release(jwk);
  if (!verified) return fail("the ID token signature does not verify");
  if (!got_payload) return fail("the ID token payload could not be read");

  auto claims_v = boost::json::parse(payload, ec);
  if (ec || !claims_v.is_object()) return fail("the ID token payload is not a JSON object");
  auto& claims = claims_v.as_object();
  auto str = [&](std::string_view name) { return core::json_string(claims, name); };
  auto num = [&](std::string_view name) { return int_claim(claims, name); };

  if (str("iss") != metadata.issuer) return fail("the ID token's iss is not the provider's issuer");
  const auto* aud = claims.if_contains("aud");
  bool audience_ok = false;
  std::size_t audiences = 0;
  if (aud && aud->is_string()) {
    audiences = 1;
    audience_ok = aud->as_string() == client_id;
  } else if (aud && aud->is_array()) {
    for (const auto& a : aud->as_array()) {
      ++audiences;
      if (a.is_string() && a.as_string() == client_id) audience_ok = true;
    }
  }
  if (!audience_ok) return fail("the ID token's aud does not contain our client id");
  if (audiences > 1 && str("azp") != client_id) return fail("the ID token has several audiences but azp is not us");
  if (claims.contains("azp") && str("azp") != client_id) return fail("the ID token's azp is not our client id");
  const auto exp = num("exp");
  if (!exp) return fail("the ID token has no exp");
  if (*exp + clock_skew_seconds <= now) return fail("the ID token has expired");
  const auto iat = num("iat");
  if (!iat) return fail("the ID token has no iat");
  if (*iat - clock_skew_seconds > now) return fail("the ID token was issued in the future");
  if (str("sub").empty()) return fail("the ID token has no sub");

  IdTokenCheck ok;
  ok.ok = true;
  ok.claims = std::move(claims);
  return ok;
}

}  // namespace

IdTokenCheck validate_id_token(std::string_view token, const ProviderMetadata& metadata, const std::vector<Jwk>& keys,
                               std::string_view client_id, std::string_view expected_nonce, std::int64_t now) {
  auto check = verify_id_token(token, metadata, keys, client_id, now);
  if (!check.ok) return check;
  if (expected_nonce.empty() || !core::constant_time_equal(core::json_string(check.claims, "nonce"), expected_nonce))
    return fail("the ID token's nonce is not the one this sign-in sent");
  return check;
}

IdTokenCheck validate_refreshed_id_token(std::string_view token, const ProviderMetadata& metadata,
                                         const std::vector<Jwk>& keys, std::string_view client_id,
                                         const boost::json::object& previous, std::string_view sign_in_nonce,
                                         std::int64_t now) {
  auto check = verify_id_token(token, metadata, keys, client_id, now);
  if (!check.ok) return check;
  const auto& claims = check.claims;
  auto same = [&](std::string_view name) {
    const auto* a = claims.if_contains(name);
    const auto* b = previous.if_contains(name);
    return (a == nullptr) == (b == nullptr) && (a == nullptr || *a == *b);
  };
  if (!same("iss")) return fail("the refreshed ID token's iss differs from the sign-in's");
  if (!same("sub")) return fail("the refreshed ID token is for another subject");
  if (!same("aud")) return fail("the refreshed ID token's aud differs from the sign-in's");
  if (!same("azp")) return fail("the refreshed ID token's azp differs from the sign-in's");
  if (claims.contains("auth_time") && !same("auth_time"))
    return fail("the refreshed ID token's auth_time is not the original authentication's");
  if (const auto* nonce = claims.if_contains("nonce")) {
    if (!nonce->is_string() || sign_in_nonce.empty() || !core::constant_time_equal(nonce->as_string(), sign_in_nonce))
      return fail("the refreshed ID token carries a nonce other than the sign-in's");
  }
  const auto iat = int_claim(claims, "iat");
  const auto previous_iat = int_claim(previous, "iat");
  if (previous_iat && iat && *iat < *previous_iat) return fail("the refreshed ID token is older than the one it replaces");
  return check;
}

}  // namespace postern::authn
