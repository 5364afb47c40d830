#include "authn/provider_metadata.h"

#include <boost/json.hpp>

#include "core/json.h"

namespace postern::authn {
namespace {

std::vector<std::string> string_list(const boost::json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = o.if_contains(key);
  if (v && v->is_array())
    for (const auto& item : v->as_array())
      if (item.is_string()) out.emplace_back(item.as_string());
  return out;
}

std::string_view without_trailing_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

bool is_url(const std::string& s) { return s.starts_with("https://") || s.starts_with("http://"); }

}  // namespace

std::optional<ProviderMetadata> parse_provider_metadata(std::string_view json, std::string_view expected_issuer,
                                                        std::string& error) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) {
    error = "the discovery document is not a JSON object";
    return std::nullopt;
  }
  const auto& o = value.as_object();
  ProviderMetadata m;
  m.issuer = core::json_string(o, "issuer");
  if (without_trailing_slash(m.issuer) != without_trailing_slash(expected_issuer)) {
    error = "the discovery document's issuer \"" + m.issuer + "\" is not the configured idp_provider_url";
    return std::nullopt;
  }
  m.authorization_endpoint = core::json_string(o, "authorization_endpoint");
  m.token_endpoint = core::json_string(o, "token_endpoint");
  m.userinfo_endpoint = core::json_string(o, "userinfo_endpoint");
  m.jwks_uri = core::json_string(o, "jwks_uri");
  m.revocation_endpoint = core::json_string(o, "revocation_endpoint");
  m.end_session_endpoint = core::json_string(o, "end_session_endpoint");
  m.id_token_signing_alg_values_supported = string_list(o, "id_token_signing_alg_values_supported");
  if (m.id_token_signing_alg_values_supported.empty()) m.id_token_signing_alg_values_supported = {"RS256"};
  m.token_endpoint_auth_methods_supported = string_list(o, "token_endpoint_auth_methods_supported");
  if (m.token_endpoint_auth_methods_supported.empty()) m.token_endpoint_auth_methods_supported = {"client_secret_basic"};
  m.code_challenge_methods_supported = string_list(o, "code_challenge_methods_supported");
  if (!is_url(m.authorization_endpoint) || !is_url(m.token_endpoint) || !is_url(m.jwks_uri)) {
    error = "the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri";
    return std::nullopt;
  }
  return m;
}

std::optional<std::vector<Jwk>> parse_jwks(std::string_view json, std::string& error) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec || !value.is_object() || !value.as_object().contains("keys") || !value.at("keys").is_array()) {
    error = "the JWKS document is not {\"keys\": [...]}";
    return std::nullopt;
  }
  std::vector<Jwk> keys;
  for (const auto& k : value.at("keys").as_array()) {
    if (!k.is_object() || keys.size() >= 100) continue;
    const auto& o = k.as_object();
    Jwk jwk{core::json_string(o, "kid"), core::json_string(o, "kty"), core::json_string(o, "alg"), core::json_string(o, "use"),
            boost::json::serialize(o)};
    if (jwk.kty == "RSA" || jwk.kty == "EC") keys.push_back(std::move(jwk));
  }
  return keys;
}

}  // namespace postern::authn
