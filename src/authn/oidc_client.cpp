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

namespace {

// The token endpoint's answer, read. `status` 0: the call itself failed (network, timeout).
struct TokenResponse {
  int status = 0;
  std::string failure;  // transport failure, or "error" of an OAuth error body; never a token
  boost::json::object body;
  bool json = false;
};

TokenResponse read_token_response(const net::FetchResponse& res) {
  TokenResponse out;
  if (!res.ok()) {
    out.failure = res.failure;
    return out;
  }
  out.status = res.status;
  boost::system::error_code ec;
  auto body = boost::json::parse(res.body, ec);
  if (!ec && body.is_object()) {
    out.json = true;
    out.body = std::move(body.as_object());
    if (res.status != 200) out.failure = core::json_string(out.body, "error").substr(0, 64);
  }
  return out;
}

// Unix time `expires_in` seconds from now, or 0 when the response has none.
std::int64_t expiry_from(const boost::json::object& tokens) {
  const auto* v = tokens.if_contains("expires_in");
  std::int64_t seconds = 0;
  if (v && v->is_int64()) seconds = v->as_int64();
  else if (v && v->is_uint64()) seconds = static_cast<std::int64_t>(v->as_uint64());
  else if (v && v->is_string()) seconds = std::atoll(std::string(v->as_string()).c_str());
  return seconds > 0 ? session::unix_now() + seconds : 0;
}

std::int64_t exp_of(const boost::json::object& claims) {
  const auto* v = claims.if_contains("exp");
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

// The payload of a compact JWS this client already verified (a session's ID token), or an empty object.
boost::json::object payload_of(std::string_view jws) {
  const auto first = jws.find('.');
  const auto second = first == std::string_view::npos ? first : jws.find('.', first + 1);
  if (second == std::string_view::npos) return {};
  auto text = core::base64url_decode(jws.substr(first + 1, second - first - 1));
  if (!text) return {};
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  return !ec && v.is_object() ? std::move(v.as_object()) : boost::json::object{};
}

void fill_identity(SignInResult& result, boost::json::object claims) {
  result.email = core::json_string(claims, "email");
  result.name = core::json_string(claims, "name");
  result.groups.clear();
  if (const auto* g = claims.if_contains("groups"); g && g->is_array()) {
    for (const auto& item : g->as_array())
      if (item.is_string()) result.groups.emplace_back(item.as_string());
  }
  result.claims_json = boost::json::serialize(claims);
}

}  // namespace

net::Task<OidcClient::UserinfoMerge> OidcClient::merge_userinfo(net::UpstreamPool& pool, const ProviderMetadata& m,
                                                                 const std::string& access_token,
                                                                 const std::string& subject,
                                                                 boost::json::object& claims) {
  if (m.userinfo_endpoint.empty() || access_token.empty()) co_return UserinfoMerge::unavailable;
  net::FetchRequest ui;
  ui.url = m.userinfo_endpoint;
  ui.headers.emplace_back("Authorization", "Bearer " + access_token);
  auto info = co_await net::fetch(pool, tls_, std::move(ui));
  if (!info.ok() || info.status != 200) {
    telemetry::log(telemetry::Level::warn, "userinfo request failed; using the ID token's claims only",
                   {{"error", info.ok() ? "status " + std::to_string(info.status) : info.failure}});
    co_return UserinfoMerge::unavailable;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(info.body, ec);
  if (ec || !v.is_object()) co_return UserinfoMerge::malformed;
  if (core::json_string(v.as_object(), "sub") != subject) co_return UserinfoMerge::wrong_subject;
  for (const auto& [k, val] : v.as_object())
    if (!claims.contains(k)) claims[k] = val;
  co_return UserinfoMerge::merged;
}

net::Task<IdTokenCheck> OidcClient::check_id_token(net::UpstreamPool& pool, const ProviderMetadata& m,
                                                   const std::string& token, std::string nonce,
                                                   const boost::json::object* previous) {
  std::string error;
  auto jwks = co_await keys(pool, m, false, error);
  if (!jwks) {
    IdTokenCheck c;
    c.error = error;
    co_return c;
  }
  auto validate = [&](const std::vector<Jwk>& k) {
    return previous ? validate_refreshed_id_token(token, m, k, idp_.client_id, *previous, nonce, session::unix_now())
                    : validate_id_token(token, m, k, idp_.client_id, nonce, session::unix_now());
  };
  auto check = validate(*jwks);
  if (!check.ok && check.unknown_kid) {
    // The provider may have rotated its keys since we cached them.
    if (auto refreshed = co_await keys(pool, m, true, error); refreshed && refreshed != jwks) check = validate(*refreshed);
  }
  co_return check;
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
  const auto res = read_token_response(co_await net::fetch(pool, tls_, client_post(*m, m->token_endpoint, std::move(form))));
  if (res.status == 0) {
    result.error = "the token request failed: " + res.failure;
    co_return result;
  }
  if (!res.json) {
    result.error = "the token response is not JSON (status " + std::to_string(res.status) + ")";
    co_return result;
  }
  if (res.status != 200) {
    result.error = "the token request was refused: " + res.failure;
    co_return result;
  }
  const auto& tokens = res.body;
  result.id_token = core::json_string(tokens, "id_token");
  result.access_token = core::json_string(tokens, "access_token");
  result.refresh_token = core::json_string(tokens, "refresh_token");
  result.access_expires_at = expiry_from(tokens);
  if (result.id_token.empty()) {
    result.error = "the token response has no id_token";
    co_return result;
  }
  auto check = co_await check_id_token(pool, *m, result.id_token, nonce, nullptr);
  if (!check.ok) {
    result.error = check.error;
    co_return result;
  }
  auto claims = std::move(check.claims);
  result.subject = core::json_string(claims, "sub");
  result.id_expires_at = exp_of(claims);
  switch (co_await merge_userinfo(pool, *m, result.access_token, result.subject, claims)) {
    case UserinfoMerge::malformed:
      result.error = "the userinfo response is not a JSON object";
      co_return result;
    case UserinfoMerge::wrong_subject:
      result.error = "the userinfo response is for another subject";
      co_return result;
    default:
      break;
  }
  fill_identity(result, std::move(claims));
  result.ok = true;
  co_return result;
}

net::Task<RefreshResult> OidcClient::refresh(net::UpstreamPool& pool, RefreshRequest request) {
  RefreshResult out;
  auto& result = out.tokens;
  std::string error;
  auto m = co_await metadata(pool, error);
  if (!m) {
    out.error = error.empty() ? "the provider's metadata is not available" : error;
    co_return out;  // failed: try again later
  }
  std::string form;
  append_param(form, "grant_type", "refresh_token");
  append_param(form, "refresh_token", request.refresh_token);
  const auto res =
      read_token_response(co_await net::fetch(pool, tls_, client_post(*m, m->token_endpoint, std::move(form))));
  if (res.status == 0) {
    out.error = "the refresh request failed: " + res.failure;
    co_return out;
  }
  if (res.status != 200) {
    out.error = "the refresh was refused (status " + std::to_string(res.status) +
                (res.failure.empty() ? std::string(")") : ", " + res.failure + ")");
    // RFC 6749 §5.2: invalid_grant means this grant is over (revoked, expired, the user deactivated). A refusal of our
    // own client (invalid_client) or a server error says nothing about the user: try again later.
    if ((res.status == 400 || res.status == 401) && res.failure != "invalid_client")
      out.outcome = RefreshOutcome::rejected;
    co_return out;
  }
  if (!res.json) {
    out.error = "the refresh response is not JSON";
    co_return out;
  }
  const auto& tokens = res.body;
  result.access_token = core::json_string(tokens, "access_token");
  result.refresh_token = core::json_string(tokens, "refresh_token");
  if (result.refresh_token.empty()) result.refresh_token = request.refresh_token;  // not rotated
  result.id_token = core::json_string(tokens, "id_token");
  result.access_expires_at = expiry_from(tokens);
  if (result.access_token.empty()) {
    out.error = "the refresh response has no access_token";
    out.outcome = RefreshOutcome::rejected;
    co_return out;
  }
  const auto previous = payload_of(request.id_token);
  result.subject = core::json_string(previous, "sub");
  boost::json::object claims;
  if (!result.id_token.empty()) {
    auto check = co_await check_id_token(pool, *m, result.id_token, request.nonce, &previous);
    if (!check.ok) {
      // As strict as at sign-in: a refreshed ID token that does not validate ends the session.
      out.error = check.error;
      out.outcome = RefreshOutcome::rejected;
      co_return out;
    }
    claims = std::move(check.claims);
    result.id_expires_at = exp_of(claims);
  } else {
    result.id_token = request.id_token;  // OIDC Core §12.2: a refresh need not return one
    claims = previous;
  }
  switch (co_await merge_userinfo(pool, *m, result.access_token, result.subject, claims)) {
    case UserinfoMerge::wrong_subject:
      out.error = "the userinfo response is for another subject";
      out.outcome = RefreshOutcome::rejected;
      co_return out;
    case UserinfoMerge::merged:
      break;
    default: {
      // Keep what the last userinfo said (a thin ID token carries no groups) until the next refresh reads it again.
      boost::system::error_code ec;
      auto before = boost::json::parse(request.claims_json, ec);
      if (!ec && before.is_object())
        for (const auto& [k, val] : before.as_object())
          if (!claims.contains(k)) claims[k] = val;
      break;
    }
  }
  fill_identity(result, std::move(claims));
  result.ok = true;
  out.outcome = RefreshOutcome::refreshed;
  co_return out;
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
