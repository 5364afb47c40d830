#pragma once
// What an OpenID Provider publishes at /.well-known/openid-configuration, and its signing keys.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::authn {

struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string userinfo_endpoint;    // may be empty
  std::string jwks_uri;
  std::string revocation_endpoint;  // may be empty
  std::string end_session_endpoint;  // may be empty
  std::vector<std::string> id_token_signing_alg_values_supported;  // default {"RS256"}
  std::vector<std::string> token_endpoint_auth_methods_supported;  // default {"client_secret_basic"}
  std::vector<std::string> code_challenge_methods_supported;
};

// Parses a discovery document; `expected_issuer` must equal its issuer byte for byte (a trailing slash aside).
// On failure returns nullopt and says why in `error`.
[[nodiscard]] std::optional<ProviderMetadata> parse_provider_metadata(std::string_view json,
                                                                     std::string_view expected_issuer,
                                                                     std::string& error);

struct Jwk {
  std::string kid;
  std::string kty;
  std::string alg;  // may be empty
  std::string use;  // may be empty
  std::string json;  // the key as published, for cjose
};

// Parses a JWKS document (at most 100 keys); keys of unknown types are skipped.
[[nodiscard]] std::optional<std::vector<Jwk>> parse_jwks(std::string_view json, std::string& error);

}  // namespace postern::authn
