#pragma once
// A client's own signed JWT for private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): what an Okta
// API service app presents at the org's /oauth2/v1/token to get a Management API token by client credentials.
// The key is an RSA key (RS256) or an EC P-256 key (ES256), given as PEM or as a JWK (JSON text). Thread-safe after
// construction; the key never leaves this object.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace postern::identity {

class ClientAssertionSigner {
 public:
  // The signer, or a sentence saying what is wrong with the key (never quoting it). `key_id` goes into the JWS header
  // (Okta picks the app's public key by it); empty: the JWK's own kid, if any.
  [[nodiscard]] static std::variant<std::unique_ptr<ClientAssertionSigner>, std::string> load(std::string_view key,
                                                                                             std::string_view key_id);
  ~ClientAssertionSigner();
  ClientAssertionSigner(const ClientAssertionSigner&) = delete;
  ClientAssertionSigner& operator=(const ClientAssertionSigner&) = delete;

  // A compact JWS: iss = sub = client_id, aud = the token endpoint, iat now, exp 5 minutes on, a random jti.
  [[nodiscard]] std::string assertion(std::string_view client_id, std::string_view token_endpoint,
                                      std::chrono::system_clock::time_point now) const;
  [[nodiscard]] std::string_view algorithm() const noexcept { return alg_; }

 private:
  struct Key;
  ClientAssertionSigner();
  std::unique_ptr<Key> key_;
  std::string kid_;
  const char* alg_ = "";
};

}  // namespace postern::identity
