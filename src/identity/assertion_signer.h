#pragma once
// What upstreams receive to know who is calling: the X-Pomerium-Jwt-Assertion JWT, signed ES256 with the configured
// signing key or, without one, a P-256 key derived from shared_secret (so every replica signs with the same key),
// and the JWKS that verifies it. Thread-safe after construction.
#include <memory>
#include <string>
#include <string_view>

namespace postern::identity {

class AssertionSigner {
 public:
  // `signing_key_pem` may be empty: then the key is derived from `shared_secret` (HKDF-SHA256).
  AssertionSigner(std::string_view signing_key_pem, std::string_view shared_secret);
  ~AssertionSigner();
  AssertionSigner(const AssertionSigner&) = delete;
  AssertionSigner& operator=(const AssertionSigner&) = delete;

  // A compact JWS (ES256, typ JWT, kid) over `claims_json`.
  [[nodiscard]] std::string sign(std::string_view claims_json) const;
  // RFC 7638 thumbprint of the public key, base64url.
  [[nodiscard]] const std::string& kid() const noexcept { return kid_; }
  // {"keys":[...]} with the public key.
  [[nodiscard]] const std::string& jwks_json() const noexcept { return jwks_; }

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string kid_;
  std::string jwks_;
};

}  // namespace postern::identity
