#pragma once
// ID token validation as a strict relying party does it (OpenID Connect Core §3.1.3.7): signature with an
// algorithm the provider advertises (never `none`, never HMAC), a key from its JWKS chosen by `kid`, then `iss`,
// `aud` (and `azp` when several audiences), `exp`, `iat`, `nonce` and `sub`.
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "authn/provider_metadata.h"

namespace postern::authn {

inline constexpr std::int64_t clock_skew_seconds = 60;
inline constexpr std::size_t max_id_token_size = 16 * 1024;

struct IdTokenCheck {
  bool ok = false;
  bool unknown_kid = false;  // no key with this kid: refetch the JWKS (rate-limited) and try once more
  std::string error;         // for logs; never contains the token
  boost::json::object claims;
};

[[nodiscard]] IdTokenCheck validate_id_token(std::string_view token, const ProviderMetadata& metadata,
                                             const std::vector<Jwk>& keys, std::string_view client_id,
                                             std::string_view expected_nonce, std::int64_t now);

// An ID token from a refresh (OpenID Connect Core §12.2): the same checks, then iss, sub, aud and azp must equal
// `previous`'s (the claims of the ID token it replaces), auth_time too when present, iat must not go back, and a
// nonce, which may be absent, must be the sign-in's.
[[nodiscard]] IdTokenCheck validate_refreshed_id_token(std::string_view token, const ProviderMetadata& metadata,
                                                       const std::vector<Jwk>& keys, std::string_view client_id,
                                                       const boost::json::object& previous,
                                                       std::string_view sign_in_nonce, std::int64_t now);

}  // namespace postern::authn
