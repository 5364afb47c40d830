#include "authn/oidc_client.h"

#include <boost/json.hpp>

#include "authn/id_token.h"
#include "core/base64.h"
#include "core/json.h"
#include "net/http_fetch.h"
#include "session/handle_codec.h"
#include "telemetry/log.h"

namespace postern::authn {
namespace {

void append_param(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty() && out.back() != '?') out += '&';
  out += name;
  out += '=';
  out += form_encode(value);
}

std::string discovery_url(const config::IdentityProviderSettings& idp) {
  std::string base = idp.url_text;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/.well-known/openid-configuration";
}

}  // namespace


OidcClient::OidcClient(config::IdentityProviderSettings idp, std::string redirect_uri)
    : idp_(std::move(idp)), redirect_uri_(std::move(redirect_uri)), tls_(boost::asio::ssl::context::tls_client) {
  tls_.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;
  tls_.set_default_verify_paths(ec);
}

net::Task<std::shared_ptr<const ProviderMetadata>> OidcClient::metadata(net::UpstreamPool& pool, std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (metadata_ && std::chrono::steady_clock::now() - metadata_fetched_ < metadata_ttl) co_return metadata_;
  }
  // Named, then moved: GCC 12 mishandles a braced temporary passed by value to a coroutine.
  net::FetchRequest request;
  request.url = discovery_url(idp_);
  auto res = co_await net::fetch(pool, tls_, std::move(request));
  if (!res.ok() || res.status != 200) {
    error = "discovery failed: " + (res.ok() ? "status " + std::to_string(res.status) : res.failure);
    std::lock_guard lock(mutex_);
    co_return metadata_;  // a stale document beats none
  }
  auto parsed = parse_provider_metadata(res.body, idp_.url_text, error);
  if (!parsed) co_return nullptr;
  auto fresh = std::make_shared<const ProviderMetadata>(std::move(*parsed));
  std::lock_guard lock(mutex_);
  metadata_ = fresh;
  metadata_fetched_ = std::chrono::steady_clock::now();
  co_return fresh;
}

net::Task<std::shared_ptr<const std::vector<Jwk>>> OidcClient::keys(net::UpstreamPool& pool,
                                                                    const ProviderMetadata& m, bool refresh,
                                                                    std::string& error) {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (keys_ && !refresh) co_return keys_;
    if (keys_ && refresh) {
      if (last_forced_refetch_.time_since_epoch().count() != 0 && now - last_forced_refetch_ < jwks_refetch_interval)
        co_return keys_;
      last_forced_refetch_ = now;  // claimed before fetching, so concurrent callers do not all refetch
    }
  }
  net::FetchRequest request;
  request.url = m.jwks_uri;
  auto res = co_await net::fetch(pool, tls_, std::move(request));
  if (!res.ok() || res.status != 200) {
    error = "fetching the provider's keys failed: " + (res.ok() ? "status " + std::to_string(res.status) : res.failure);
    std::lock_guard lock(mutex_);
    co_return keys_;
  }
  auto parsed = parse_jwks(res.body, error);
  if (!parsed) co_return nullptr;
  auto fresh = std::make_shared<const std::vector<Jwk>>(std::move(*parsed));
  std::lock_guard lock(mutex_);
  keys_ = fresh;
  co_return fresh;
}

std::string OidcClient::authorization_url(const ProviderMetadata& m, std::string_view state, std::string_view nonce,
                                          std::string_view code_challenge) const {
  std::string url = m.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  std::string scope;
  for (const auto& s : idp_.scopes) scope += (scope.empty() ? "" : " ") + s;
  append_param(url, "client_id", idp_.client_id);
  append_param(url, "redirect_uri", redirect_uri_);
  append_param(url, "response_type", "code");
  append_param(url, "scope", scope);
  append_param(url, "state", state);
  append_param(url, "nonce", nonce);
  append_param(url, "code_challenge", code_challenge);
  append_param(url, "code_challenge_method", "S256");
  for (const auto& [k, v] : idp_.request_params) append_param(url, k, v);
  return url;
}

net::FetchRequest OidcClient::client_post(const ProviderMetadata& m, std::string url, std::string form) const {
  net::FetchRequest req;
  req.method = "POST";
  req.url = std::move(url);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  add_client_auth(m, req.headers, form);
  req.body = std::move(form);
  return req;
}

void OidcClient::add_client_auth(const ProviderMetadata& m, std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string& form) const {
  const auto& methods = m.token_endpoint_auth_methods_supported;
  const bool basic = std::find(methods.begin(), methods.end(), "client_secret_basic") != methods.end();
  const bool post = std::find(methods.begin(), methods.end(), "client_secret_post") != methods.end();
  if (basic || !post) {
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    headers.emplace_back("Authorization", "Basic " + core::base64_encode(form_encode(idp_.client_id) + ":" +
                                                                          form_encode(idp_.client_secret)));
  } else {
    append_param(form, "client_id", idp_.client_id);
    append_param(form, "client_secret", idp_.client_secret);
  }
}

net::Task<SignInResult> OidcClient::complete_sign_in(net::UpstreamPool& pool, std::string code, std::string verifier,
                                                     std::string nonce) {
  SignInResult result;
  std::string error;
  auto m = co_await metadata(pool, error);
  if (!m) {
    result.error = error;
    co_return result;
  }
  std::string form;
  append_param(form, "grant_type", "authorization_code");
  append_param(form, "code", code);
  append_param(form, "redirect_uri", redirect_uri_);
  append_param(form, "code_verifier", verifier);
  auto res = co_await net::fetch(pool, tls_, client_post(*m, m->token_endpoint, std::move(form)));
  if (!res.ok()) {
    result.error = "the token request failed: " + res.failure;
    co_return result;
  }
  boost::system::error_code ec;
  auto body = boost::json::parse(res.body, ec);
  if (ec || !body.is_object()) {
    result.error = "the token response is not JSON (status " + std::to_string(res.status) + ")";
    co_return result;
  }
  const auto& tokens = body.as_object();
  if (res.status != 200) {
    result.error = "the token request was refused: " + core::json_string(tokens, "error");
    co_return result;
  }
  result.id_token = core::json_string(tokens, "id_token");
  result.access_token = core::json_string(tokens, "access_token");
  result.refresh_token = core::json_string(tokens, "refresh_token");
  if (result.id_token.empty()) {
    result.error = "the token response has no id_token";
    co_return result;
  }

  auto jwks = co_await keys(pool, *m, false, error);
  if (!jwks) {
    result.error = error;
    co_return result;
  }
  auto check = validate_id_token(result.id_token, *m, *jwks, idp_.client_id, nonce, session::unix_now());
  if (!check.ok && check.unknown_kid) {
    // The provider may have rotated its keys since we cached them.
    if (auto refreshed = co_await keys(pool, *m, true, error); refreshed && refreshed != jwks)
      check = validate_id_token(result.id_token, *m, *refreshed, idp_.client_id, nonce, session::unix_now());
  }
  if (!check.ok) {
    result.error = check.error;
    co_return result;
  }
  auto claims = std::move(check.claims);
  result.subject = core::json_string(claims, "sub");

  if (!m->userinfo_endpoint.empty() && !result.access_token.empty()) {
    net::FetchRequest ui;
    ui.url = m->userinfo_endpoint;
    ui.headers.emplace_back("Authorization", "Bearer " + result.access_token);
    auto info = co_await net::fetch(pool, tls_, std::move(ui));
    if (info.ok() && info.status == 200) {
      auto v = boost::json::parse(info.body, ec);
      if (ec || !v.is_object()) {
        result.error = "the userinfo response is not a JSON object";
        co_return result;
      }
      if (core::json_string(v.as_object(), "sub") != result.subject) {
        result.error = "the userinfo response is for another subject";
        co_return result;
      }
      for (const auto& [k, val] : v.as_object())
        if (!claims.contains(k)) claims[k] = val;
    } else {
      telemetry::log(telemetry::Level::warn, "userinfo request failed; using the ID token's claims only",
                     {{"error", info.ok() ? "status " + std::to_string(info.status) : info.failure}});
    }
  }
  result.email = core::json_string(claims, "email");
  result.name = core::json_string(claims, "name");
  if (const auto* g = claims.if_contains("groups"); g && g->is_array()) {
    for (const auto& item : g->as_array())
      if (item.is_string()) result.groups.emplace_back(item.as_string());
  }
  result.claims_json = boost::json::serialize(claims);
  result.ok = true;
  co_return result;
}

net::Task<void> OidcClient::revoke(net::UpstreamPool& pool, std::string token, std::string hint) {
  std::string error;
  auto m = co_await metadata(pool, error);
  if (!m || m->revocation_endpoint.empty() || token.empty()) co_return;
  std::string form;
  append_param(form, "token", token);
  append_param(form, "token_type_hint", hint);
  auto res = co_await net::fetch(pool, tls_, client_post(*m, m->revocation_endpoint, std::move(form)));
  if (!res.ok() || res.status != 200)
    telemetry::log(telemetry::Level::warn, "token revocation failed",
                   {{"error", res.ok() ? "status " + std::to_string(res.status) : res.failure}});
}

std::string OidcClient::end_session_url(const ProviderMetadata& m, std::string_view id_token,
                                        std::string_view post_logout_redirect_uri, std::string_view state) const {
  if (m.end_session_endpoint.empty()) return {};
  std::string url = m.end_session_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  if (!id_token.empty()) append_param(url, "id_token_hint", id_token);
  append_param(url, "client_id", idp_.client_id);
  append_param(url, "post_logout_redirect_uri", post_logout_redirect_uri);
  append_param(url, "state", state);
  return url;
}

}  // namespace postern::authn
