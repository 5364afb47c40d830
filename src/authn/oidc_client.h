#pragma once
// The OpenID Connect relying party: discovery (cached), signing keys (cached, refetched on an unknown kid at most
// once per `jwks_refetch_interval`), the authorization request with state/nonce/PKCE S256, the code exchange with
// the client's secret, ID token validation, userinfo, revocation and the end-session URL. One instance is shared by
// all workers; calls run on the calling worker's event loop. Knows nothing of routes or cookies.
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "authn/id_token.h"
#include "authn/provider_metadata.h"
#include "core/url.h"
#include "config/settings.h"
#include "net/asio_types.h"
#include "net/http_fetch.h"
#include "net/upstream_pool.h"

namespace postern::authn {

struct SignInResult {
  bool ok = false;
  std::string error;  // for logs and a plain sentence on the error page; never contains a token
  std::string subject;
  std::string email;
  std::string name;
  std::vector<std::string> groups;
  std::string claims_json;
  std::string id_token;
  std::string access_token;
  std::string refresh_token;
  std::int64_t access_expires_at = 0;  // unix seconds from expires_in; 0: not said
  std::int64_t id_expires_at = 0;      // the ID token's exp
};

// What a session holds that a refresh needs.
struct RefreshRequest {
  std::string refresh_token;
  std::string id_token;     // the session's current ID token (its claims are what a new one must match)
  std::string nonce;        // the sign-in's
  std::string claims_json;  // the session's claims, kept where a failed userinfo read leaves a gap
};

enum class RefreshOutcome {
  refreshed,  // `tokens` holds the new tokens and identity
  rejected,   // the grant is over (invalid_grant) or the answer did not validate: the session ends
  failed,     // temporary (network, timeout, 5xx, 429, our client refused): try again later, keep the session
};
struct RefreshResult {
  RefreshOutcome outcome = RefreshOutcome::failed;
  std::string error;  // for logs; never a token
  SignInResult tokens;
};

class OidcClient {
 public:
  static constexpr auto metadata_ttl = std::chrono::hours(1);
  // At most one JWKS refetch for an unknown kid per interval: a forged kid cannot make us hammer the IdP.
  static constexpr auto jwks_refetch_interval = std::chrono::seconds(10);

  OidcClient(config::IdentityProviderSettings idp, std::string redirect_uri);

  // The provider's metadata, fetched on first use and refreshed after metadata_ttl; null with `error` on failure.
  [[nodiscard]] net::Task<std::shared_ptr<const ProviderMetadata>> metadata(net::UpstreamPool& pool,
                                                                            std::string& error);
  [[nodiscard]] std::string authorization_url(const ProviderMetadata& m, std::string_view state,
                                              std::string_view nonce, std::string_view code_challenge) const;
  // Exchanges `code`, validates the ID token against `nonce`, merges userinfo when its sub matches.
  [[nodiscard]] net::Task<SignInResult> complete_sign_in(net::UpstreamPool& pool, std::string code,
                                                         std::string verifier, std::string nonce);
  // The refresh-token grant; a returned ID token is validated as at sign-in and against the session's (§12.2),
  // userinfo re-read with the new access token.
  [[nodiscard]] net::Task<RefreshResult> refresh(net::UpstreamPool& pool, RefreshRequest request);
  // RFC 7009 revocation when the provider advertises it; failures are logged, not fatal.
  [[nodiscard]] net::Task<void> revoke(net::UpstreamPool& pool, std::string token, std::string hint);
  // The provider's end-session URL, or "" when it has none.
  [[nodiscard]] std::string end_session_url(const ProviderMetadata& m, std::string_view id_token,
                                            std::string_view post_logout_redirect_uri, std::string_view state) const;
  [[nodiscard]] const config::IdentityProviderSettings& settings() const noexcept { return idp_; }

 private:
  [[nodiscard]] net::Task<std::shared_ptr<const std::vector<Jwk>>> keys(net::UpstreamPool& pool,
                                                                        const ProviderMetadata& m, bool refresh,
                                                                        std::string& error);
  enum class UserinfoMerge { merged, unavailable, malformed, wrong_subject };
  // Reads userinfo with `access_token` and adds its claims that `claims` lacks, when its sub is `subject`.
  [[nodiscard]] net::Task<UserinfoMerge> merge_userinfo(net::UpstreamPool& pool, const ProviderMetadata& m,
                                                        const std::string& access_token, const std::string& subject,
                                                        boost::json::object& claims);
  // Validates an ID token with the cached keys (refetched once for an unknown kid): a sign-in's against `nonce`, a
  // refresh's against `previous` (the claims of the token it replaces).
  [[nodiscard]] net::Task<IdTokenCheck> check_id_token(net::UpstreamPool& pool, const ProviderMetadata& m,
                                                       const std::string& token, std::string nonce,
                                                       const boost::json::object* previous);
  // A form POST to one of the provider's endpoints, authenticated as our client.
  [[nodiscard]] net::FetchRequest client_post(const ProviderMetadata& m, std::string url, std::string form) const;
  void add_client_auth(const ProviderMetadata& m, std::vector<std::pair<std::string, std::string>>& headers,
                       std::string& form) const;

  config::IdentityProviderSettings idp_;
  std::string redirect_uri_;
  boost::asio::ssl::context tls_;
  std::mutex mutex_;
  std::shared_ptr<const ProviderMetadata> metadata_;
  std::chrono::steady_clock::time_point metadata_fetched_;
  std::shared_ptr<const std::vector<Jwk>> keys_;
  std::chrono::steady_clock::time_point last_forced_refetch_;  // only refetches for an unknown kid are rate-limited
};

using core::form_encode;

}  // namespace postern::authn
