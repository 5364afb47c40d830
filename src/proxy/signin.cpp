#include "proxy/signin.h"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "core/base64.h"
#include "core/constant_time.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/random.h"
#include "core/strings.h"
#include "core/url.h"
#include "authz/policy.h"
#include "core/ip_address.h"
#include "portal/error_page.h"
#include "proxy/cookies.h"
#include "proxy/signin_detail.h"
#include "refresh/schedule.h"
#include "session/handle_codec.h"
#include "telemetry/log.h"

namespace postern::proxy {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace signin_detail {

// How long each step of the dance may take. Sign-in links and flows are generous so a slow MFA prompt does not
// break them; the handoff happens in one automatic redirect.
constexpr std::int64_t sign_in_link_ttl = 15 * 60;
constexpr std::int64_t sign_in_flow_ttl = 30 * 60;
constexpr std::int64_t handoff_ttl = 2 * 60;
constexpr std::int64_t assertion_ttl = 5 * 60;
constexpr std::int64_t assertion_reuse = 4 * 60;


// Each sign-in in progress has a cookie of its own (two tabs, or a tab and an expired XHR, sign in at once without
// overwriting each other's state): `<csrf cookie>_<16 characters of the state's SHA-256>`, found again from the
// `state` the IdP sends back. At most max_sign_in_flows per browser; the oldest go first.
constexpr std::size_t max_sign_in_flows = 5;
std::string flow_cookie_prefix(const config::Settings& s) { return s.csrf_cookie_name + "_"; }
std::string flow_cookie_name(const config::Settings& s, std::string_view state) {
  return flow_cookie_prefix(s) + core::base64url_encode(core::sha256(state)).substr(0, 16);
}
const std::string& authenticate_cookie_name(const config::Settings& s) { return s.authenticate_cookie_name; }

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return std::nullopt;
  for (const auto& p : u->params()) {
    if (p.key == name) return std::string(p.value);
  }
  return std::nullopt;
}

// One Set-Cookie value as the list send_* take (a named function: GCC 12 miscompiles braced lists in co_await).
std::vector<std::string> one(std::string set_cookie_value) {
  std::vector<std::string> v;
  v.push_back(std::move(set_cookie_value));
  return v;
}

std::string random_token(std::size_t bytes) { return core::base64url_encode(core::random_bytes(bytes)); }

// Signed parameters for sign_in / sign_out links: HMAC-SHA256 with shared_secret over every field.
std::string url_signature(const config::Settings& s, std::string_view kind, std::string_view redirect,
                          std::string_view programmatic, std::string_view sid, std::int64_t issued,
                          std::int64_t expiry) {
  const std::string message = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", kind, redirect, programmatic, sid, issued, expiry);
  return core::base64url_encode(core::hmac_sha256(s.shared_secret, message));
}

std::string signed_link(const config::Settings& s, std::string_view path, std::string_view kind,
                        std::string_view redirect, std::string_view programmatic, std::string_view sid) {
  const std::int64_t issued = session::unix_now();
  const std::int64_t expiry = issued + sign_in_link_ttl;
  std::string url = s.authenticate_service_url.origin() + std::string(path) + "?pomerium_redirect_uri=" +
                    authn::form_encode(redirect);
  if (!programmatic.empty()) url += "&pomerium_programmatic_uri=" + authn::form_encode(programmatic);
  if (!sid.empty()) url += "&pomerium_sid=" + authn::form_encode(sid);
  url += fmt::format("&pomerium_issued={}&pomerium_expiry={}&pomerium_signature={}", issued, expiry,
                     url_signature(s, kind, redirect, programmatic, sid, issued, expiry));
  return url;
}

enum class LinkCheck { valid, invalid, expired };

struct SignedParams {
  std::string redirect;
  std::string programmatic;
  std::string sid;
};

LinkCheck check_signed_link(const config::Settings& s, std::string_view target, std::string_view kind,
                            SignedParams& out) {
  auto redirect = query_param(target, "pomerium_redirect_uri");
  auto issued_text = query_param(target, "pomerium_issued");
  auto expiry_text = query_param(target, "pomerium_expiry");
  auto signature = query_param(target, "pomerium_signature");
  if (!redirect || !issued_text || !expiry_text || !signature) return LinkCheck::invalid;
  out.redirect = *redirect;
  out.programmatic = query_param(target, "pomerium_programmatic_uri").value_or("");
  out.sid = query_param(target, "pomerium_sid").value_or("");
  std::int64_t issued = 0, expiry = 0;
  try {
    issued = std::stoll(*issued_text);
    expiry = std::stoll(*expiry_text);
  } catch (...) {
    return LinkCheck::invalid;
  }
  const std::string expected = url_signature(s, kind, out.redirect, out.programmatic, out.sid, issued, expiry);
  if (!core::constant_time_equal(expected, *signature)) return LinkCheck::invalid;
  const auto now = session::unix_now();
  if (issued > now + 60) return LinkCheck::invalid;
  if (expiry < now) return LinkCheck::expired;
  return LinkCheck::valid;
}

using core::parse_http_url;

// A URL Postern may send a browser to: one of its route hosts or its authenticate host. Nothing else, ever.
bool is_our_url(const Connection& c, std::string_view url, ParsedUrl* out) {
  auto p = parse_http_url(url);
  if (!p) return false;
  if (out) *out = *p;
  const auto& auth = c.settings.authenticate_service_url;
  if (!auth.empty() && p->host == auth.host && p->port == auth.effective_port()) return true;
  for (const auto& r : c.shared.snapshot->routes.routes())
    if (!r.settings().tcp && r.matches_host(p->host, p->port)) return true;
  return false;
}

bool https(const Connection& c) { return c.stream.is_tls(); }

std::string cookie(const Connection& c, std::string_view name, std::string_view value, std::int64_t max_age,
                   bool route_cookie) {
  CookieSpec spec{name, value, std::chrono::seconds(max_age), c.settings.cookie_secure && https(c),
                  route_cookie ? std::string_view(c.settings.cookie_domain) : std::string_view()};
  return set_cookie(spec, c.settings);
}

std::string route_url(const Connection& c, const RequestHeader& req, std::string_view target) {
  return std::string(c.scheme()) + "://" + core::to_lower(std::string(req[http::field::host])) + std::string(target);
}

// Pomerium's rule: redirect to sign in unless the client asked for JSON (or another non-HTML type) or is an XHR.
bool is_browser(const RequestHeader& req) {
  if (core::iequals(core::trim(req["X-Requested-With"]), "XMLHttpRequest")) return false;
  const auto accept = req[http::field::accept];
  return !portal::prefers_json(accept) && portal::accepts_html(accept);
}

// The shared session store cannot be reached (PostgreSQL down): sign-in cannot complete right now.
net::Task<bool> send_store_unavailable(Connection& c, Exchange& ex, const RequestContext& ctx, std::string retry) {
  co_return co_await send_page(c, ex, 503,
                               "Signing in is not possible for a moment: the session store cannot be reached. Try "
                               "again shortly.",
                               ctx.keep_alive, retry, "Try again");
}

std::shared_ptr<const session::Session> session_from_handle(const Connection& c, std::string_view sealed) {
  auto handle = session::open_handle(sealed, c.settings.cookie_secret, session::unix_now());
  if (!handle) return nullptr;
  return c.shared.auth->store->get(handle->session_id);
}

// The groups upstreams and the user page see: the directory's ids and names, else the token's groups claim.
std::vector<std::string_view> shown_groups(Connection& c, const session::Session& s) {
  if (const auto* g = user_groups(c, s)) return {g->values().begin(), g->values().end()};
  return {};
}

json::object user_claims(Connection& c, const session::Session& s) {
  json::array groups;
  for (const auto& g : shown_groups(c, s)) groups.emplace_back(g);
  return {{"sub", s.user_id}, {"user", s.user_id},     {"email", s.email},
          {"name", s.name},   {"groups", groups},      {"sid", s.id}};
}

std::string claim_value(Connection& c, const session::Session& s, std::string_view claim) {
  if (claim == "email") return s.email;
  if (claim == "name") return s.name;
  if (claim == "sub" || claim == "user") return s.user_id;
  if (claim == "sid") return s.id;
  if (claim == "groups") {
    std::string out;
    for (const auto g : shown_groups(c, s)) {
      if (!out.empty()) out += ',';
      out += g;
    }
    return out;
  }
  boost::system::error_code ec;
  auto v = json::parse(s.claims_json(), ec);
  if (ec || !v.is_object()) return {};
  const auto* member = v.as_object().if_contains(claim);
  if (!member) return {};
  if (member->is_string()) return std::string(member->as_string());
  if (member->is_array()) {
    std::string out;
    for (const auto& item : member->as_array())
      out += (out.empty() ? "" : ",") + (item.is_string() ? std::string(item.as_string()) : json::serialize(item));
    return out;
  }
  return json::serialize(*member);
}

// ---- authenticate host ------------------------------------------------------------------------------------------

// After the IdP: the handoff to the route host, which sets its own cookie.
std::string handoff_url(const Connection& c, const session::Session& s, const std::string& redirect,
                        const std::string& programmatic) {
  const ParsedUrl target = *parse_http_url(redirect);  // checked by is_our_url when the flow started
  const json::object payload{
      {"sid", s.id},
      {"exp", std::chrono::duration_cast<std::chrono::seconds>(s.expires_at.time_since_epoch()).count()},
      {"r", redirect},
      {"p", programmatic},
      {"o", target.origin()},
      {"hid", random_token(16)},
      {"iat", session::unix_now()}};
  const std::string sealed = session::seal_json(payload, c.settings.shared_secret, "postern handoff v1");
  return target.origin() + "/.pomerium/callback/?pomerium_redirect_uri=" + authn::form_encode(redirect) +
         "&pomerium_session_encrypted=" + sealed;
}

net::Task<bool> authenticate_sign_in(Connection& c, Exchange& ex, const RequestHeader& req,
                                     const RequestContext& ctx) {
  SignedParams params;
  const auto check = check_signed_link(c.settings, ctx.target, "sign_in", params);
  ParsedUrl target;
  if (check == LinkCheck::invalid || !is_our_url(c, params.redirect, &target)) {
    co_return co_await send_page(c, ex, 400, "This sign-in link is not valid.", ctx.keep_alive, {}, {});
  }
  if (check == LinkCheck::expired) {
    co_return co_await send_page(c, ex, 400, "This sign-in link has expired.", ctx.keep_alive, params.redirect,
                                 "Sign in again");
  }
  auto& auth = *c.shared.auth;
  if (!auth.oidc) {
    co_return co_await send_page(c, ex, 503, "Sign-in is not configured.", ctx.keep_alive, {}, {});
  }
  // Already signed in on the authenticate host (another route host earlier): hand that session over directly.
  if (auto handle = find_cookie(req, authenticate_cookie_name(c.settings))) {
    if (auto s = session_from_handle(c, *handle)) {
      co_return co_await send_redirect(c, ex, handoff_url(c, *s, params.redirect, params.programmatic),
                                       ctx.keep_alive);
    }
  }
  std::string error;
  auto metadata = co_await auth.oidc->metadata(c.worker.pool, error);
  if (!metadata) {
    telemetry::log(telemetry::Level::error, "identity provider unavailable",
                   {{"request_id", ex.request_id}, {"error", error}});
    co_return co_await send_page(c, ex, 502, "Sign-in failed: the identity provider could not be reached.",
                                 ctx.keep_alive, params.redirect, "Try again");
  }
  const std::string state = random_token(24);
  const std::string nonce = random_token(24);
  const std::string verifier = random_token(32);
  const std::string challenge = core::base64url_encode(core::sha256(verifier));
  const json::object flow{{"st", state},          {"n", nonce},
                          {"v", verifier},        {"r", params.redirect},
                          {"p", params.programmatic}, {"iat", session::unix_now()}};
  const std::string sealed = session::seal_json(flow, c.settings.cookie_secret, "postern sign-in flow v1");
  // Flows this browser started before stay; past the bound, the oldest (or unreadable) ones are deleted.
  std::vector<std::pair<std::int64_t, std::string>> earlier;  // (iat, cookie name)
  const std::string prefix = flow_cookie_prefix(c.settings);
  for_each_cookie(req, [&](std::string_view name, std::string_view value) {
    if (name.starts_with(prefix) && earlier.size() < 64) {
      auto old = session::open_json(value, c.settings.cookie_secret, "postern sign-in flow v1");
      earlier.emplace_back(old ? core::json_int64(*old, "iat").value_or(0) : 0, std::string(name));
    }
    return true;
  });
  std::vector<std::string> set_cookies;
  if (earlier.size() >= max_sign_in_flows) {
    std::sort(earlier.begin(), earlier.end());
    for (std::size_t i = 0; i + max_sign_in_flows - 1 < earlier.size(); ++i)
      set_cookies.push_back(cookie(c, earlier[i].second, "", 0, false));
  }
  set_cookies.push_back(cookie(c, flow_cookie_name(c.settings, state), sealed, sign_in_flow_ttl, false));
  co_return co_await send_redirect(c, ex, auth.oidc->authorization_url(*metadata, state, nonce, challenge),
                                   ctx.keep_alive, std::move(set_cookies));
}

net::Task<bool> authenticate_callback(Connection& c, Exchange& ex, const RequestHeader& req,
                                      const RequestContext& ctx) {
  auto& auth = *c.shared.auth;
  struct Outcome {  // postern_sign_ins_total: every callback ends as a success or a failure
    telemetry::WorkerMetrics& metrics;
    bool ok = false;
    ~Outcome() { metrics.sign_in(ok ? telemetry::SignIn::success : telemetry::SignIn::failure); }
  } outcome{c.worker.metrics};
  const auto state = query_param(ctx.target, "state");
  const std::string flow_name = state && state->size() <= 512 ? flow_cookie_name(c.settings, *state) : std::string();
  const auto flow_cookie = flow_name.empty() ? std::nullopt : find_cookie(req, flow_name);
  std::optional<json::object> flow;
  if (flow_cookie) flow = session::open_json(*flow_cookie, c.settings.cookie_secret, "postern sign-in flow v1");
  // This flow's cookie is spent whatever happens next (single use; the state is claimed below too).
  auto spent = [&] { return one(cookie(c, flow_name, "", 0, false)); };
  const std::string home = c.settings.authenticate_service_url.origin() + "/.pomerium/";
  if (!flow) {
    co_return co_await send_page(c, ex, 400,
                                 "This sign-in has expired or was started in another browser. Open the application "
                                 "again to sign in.",
                                 ctx.keep_alive, home, "Sign in again");
  }
  auto field = [&](std::string_view k) { return core::json_string(*flow, k); };
  const std::string redirect = field("r");
  const std::string retry = is_our_url(c, redirect) ? redirect : home;
  const auto iat = core::json_int64(*flow, "iat");
  if (!iat || *iat + sign_in_flow_ttl < session::unix_now()) {
    co_return co_await send_page(c, ex, 400, "This sign-in took too long and has expired.", ctx.keep_alive, retry,
                                 "Sign in again", spent());
  }
  if (!core::constant_time_equal(*state, field("st"))) {
    telemetry::log(telemetry::Level::warn, "sign-in callback with a state that does not match this browser's",
                   {{"request_id", ex.request_id}});
    co_return co_await send_page(c, ex, 400, "This sign-in response does not belong to this browser.",
                                 ctx.keep_alive, retry, "Sign in again");
  }
  if (auto error = query_param(ctx.target, "error")) {
    const bool denied = *error == "access_denied" || *error == "unauthorized_client";
    telemetry::log(telemetry::Level::info, "identity provider refused sign-in",
                   {{"request_id", ex.request_id}, {"error", error->substr(0, 64)}});
    co_return co_await send_page(c, ex, denied ? 401 : 400,
                                 denied ? "The identity provider did not allow this sign-in."
                                        : "The identity provider reported an error during sign-in.",
                                 ctx.keep_alive, retry, "Sign in again", spent());
  }
  const auto code = query_param(ctx.target, "code");
  if (!code || code->empty() || code->size() > 4096) {
    co_return co_await send_page(c, ex, 400, "The sign-in response has no authorization code.", ctx.keep_alive,
                                 retry, "Sign in again");
  }
  if (!auth.store->available()) co_return co_await send_store_unavailable(c, ex, ctx, retry);
  if (!auth.store->claim_once("state:" + field("st"), std::chrono::seconds(sign_in_flow_ttl))) {
    if (!auth.store->available()) co_return co_await send_store_unavailable(c, ex, ctx, retry);
    co_return co_await send_page(c, ex, 400, "This sign-in response was already used.", ctx.keep_alive, retry,
                                 "Sign in again", spent());
  }
  auto result = co_await auth.oidc->complete_sign_in(c.worker.pool, *code, field("v"), field("n"));
  if (!result.ok) {
    telemetry::log(telemetry::Level::warn, "sign-in failed", {{"request_id", ex.request_id}, {"error", result.error}});
    co_return co_await send_page(c, ex, 502,
                                 "Sign-in failed: the identity provider's answer could not be verified.",
                                 ctx.keep_alive, retry, "Sign in again", spent());
  }
  auto s = std::make_shared<session::Session>();
  s->id = random_token(32);
  s->user_id = result.subject;
  s->email = result.email;
  s->name = result.name;
  s->id_token = std::move(result.id_token);
  s->set_claims(result.claims_json);  // after id_token: the claims it does not carry are kept apart
  s->refresh_token = std::move(result.refresh_token);
  // Kept only when there is no refresh token: revoking the refresh token revokes it (Okta), a refresh brings a new one.
  if (!s->refreshable()) s->access_token = std::move(result.access_token);
  s->nonce = field("n");
  s->issued_at = session::Clock::now();
  s->expires_at = s->issued_at + std::chrono::duration_cast<session::Clock::duration>(c.settings.cookie_expire);
  if (s->refreshable()) {
    // Refreshed shortly before the first of the two tokens expires (refresh/schedule.h).
    s->tokens_expire_at = refresh::tokens_expire_at(result.access_expires_at, result.id_expires_at);
    s->refresh_due_at = refresh::first_due(s->issued_at, s->tokens_expire_at);
  }
  if (!auth.store->put(s)) {
    telemetry::log(telemetry::Level::error, "sign-in could not be stored: the session store is unavailable",
                   {{"request_id", ex.request_id}, {"user", s->user_id}});
    co_return co_await send_store_unavailable(c, ex, ctx, retry);
  }
  if (auth.directory) auth.directory->refresh_user(s->user_id);  // a new employee's groups, without the next sync
  telemetry::log(telemetry::Level::info, "signed in", {{"request_id", ex.request_id}, {"user", s->user_id}});
  outcome.ok = true;
  const auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(c.settings.cookie_expire).count();
  const std::string handle =
      session::seal_handle({s->id, session::unix_now() + lifetime}, c.settings.cookie_secret);
  auto set_cookies = spent();
  set_cookies.push_back(cookie(c, authenticate_cookie_name(c.settings), handle, lifetime, false));
  co_return co_await send_redirect(c, ex, handoff_url(c, *s, redirect, field("p")), ctx.keep_alive,
                                   std::move(set_cookies));
}

net::Task<bool> authenticate_sign_out(Connection& c, Exchange& ex, const RequestHeader& req,
                                      const RequestContext& ctx) {
  auto& auth = *c.shared.auth;
  SignedParams params;
  const auto check = check_signed_link(c.settings, ctx.target, "sign_out", params);
  if (check != LinkCheck::valid) {
    // Not a link Postern made (or an old one): ask, so a third-party page cannot sign people out.
    const std::string link = signed_link(c.settings, "/.pomerium/sign_out", "sign_out", "");
    co_return co_await send_page(c, ex, 200, "Do you want to sign out?", ctx.keep_alive, link, "Sign out");
  }
  std::vector<std::shared_ptr<const session::Session>> ended;
  if (auto handle = find_cookie(req, authenticate_cookie_name(c.settings)))
    if (auto s = session_from_handle(c, *handle)) ended.push_back(s);
  if (!params.sid.empty())
    if (auto s = auth.store->get(params.sid)) ended.push_back(s);
  std::string id_token;
  for (const auto& s : ended) {
    auth.store->erase(s->id);
    if (id_token.empty()) id_token = s->id_token.text();
    if (auth.oidc) {
      co_await auth.oidc->revoke(c.worker.pool, s->refresh_token, "refresh_token");
      co_await auth.oidc->revoke(c.worker.pool, s->access_token, "access_token");
    }
    telemetry::log(telemetry::Level::info, "signed out", {{"request_id", ex.request_id}, {"user", s->user_id}});
  }
  const std::string after = c.settings.signout_redirect_url.empty()
                                ? c.settings.authenticate_service_url.origin() + "/.pomerium/signed_out"
                                : c.settings.signout_redirect_url;
  std::string location = after;
  if (auth.oidc && !id_token.empty()) {
    std::string error;
    if (auto m = co_await auth.oidc->metadata(c.worker.pool, error)) {
      const std::string url = auth.oidc->end_session_url(*m, id_token, after, random_token(16));
      if (!url.empty()) location = url;
    }
  }
  co_return co_await send_redirect(c, ex, location, ctx.keep_alive,
                                   one(cookie(c, authenticate_cookie_name(c.settings), "", 0, false)));
}

// ---- route hosts ------------------------------------------------------------------------------------------------

net::Task<bool> route_callback(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  auto& auth = *c.shared.auth;
  const auto sealed = query_param(ctx.target, "pomerium_session_encrypted");
  const auto redirect = query_param(ctx.target, "pomerium_redirect_uri");
  std::optional<json::object> handoff;
  if (sealed) handoff = session::open_json(*sealed, c.settings.shared_secret, "postern handoff v1");
  if (!handoff || !redirect) {
    co_return co_await send_page(c, ex, 400, "This sign-in handoff is not valid.", ctx.keep_alive, {}, {});
  }
  auto str = [&](std::string_view k) { return core::json_string(*handoff, k); };
  auto num = [&](std::string_view k) { return core::json_int64(*handoff, k).value_or(0); };
  ParsedUrl here;
  const auto origin = parse_http_url(route_url(c, req, {}));
  if (*redirect != str("r") || !origin || str("o") != origin->origin() || !is_our_url(c, str("r"), &here)) {
    co_return co_await send_page(c, ex, 400, "This sign-in handoff is not valid for this address.", ctx.keep_alive,
                                 {}, {});
  }
  if (num("iat") + handoff_ttl < session::unix_now()) {
    co_return co_await send_page(c, ex, 400, "This sign-in handoff has expired.", ctx.keep_alive, str("r"),
                                 "Sign in again");
  }
  if (!auth.store->claim_once("handoff:" + str("hid"), std::chrono::seconds(handoff_ttl * 2))) {
    if (!auth.store->available()) co_return co_await send_store_unavailable(c, ex, ctx, str("r"));
    co_return co_await send_page(c, ex, 400, "This sign-in handoff was already used.", ctx.keep_alive, str("r"),
                                 "Continue");
  }
  auto s = auth.store->get(str("sid"));
  if (!s) {
    co_return co_await send_page(c, ex, 400, "This session has ended.", ctx.keep_alive, str("r"), "Sign in again");
  }
  const std::int64_t exp = num("exp");
  const std::string handle = session::seal_handle({s->id, exp}, c.settings.cookie_secret);
  if (const std::string programmatic = str("p"); !programmatic.empty()) {
    const char sep = programmatic.find('?') == std::string::npos ? '?' : '&';
    co_return co_await send_redirect(c, ex, programmatic + sep + "pomerium_jwt=" + handle, ctx.keep_alive);
  }
  co_return co_await send_redirect(c, ex, str("r"), ctx.keep_alive,
                                   one(cookie(c, c.settings.cookie_name, handle, exp - session::unix_now(), true)));
}

net::Task<bool> route_sign_out(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  std::string sid;
  if (auto lookup = find_session(c, req); lookup.session) sid = lookup.session->id;
  const std::string clear = cookie(c, c.settings.cookie_name, "", 0, true);
  if (c.settings.authenticate_service_url.empty()) {
    if (!sid.empty()) c.shared.auth->store->erase(sid);
    co_return co_await send_page(c, ex, 200, "You have been signed out.", ctx.keep_alive, {}, {}, one(clear));
  }
  co_return co_await send_redirect(c, ex, signed_link(c.settings, "/.pomerium/sign_out", "sign_out", "", "", sid),
                                   ctx.keep_alive, one(clear));
}

net::Task<bool> programmatic_login(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  if (req.method() != http::verb::get) {
    co_return co_await send_local(c, ex, 405, "Use GET.", ctx.keep_alive);
  }
  const auto target = query_param(ctx.target, "pomerium_redirect_uri");
  if (!target) co_return co_await send_local(c, ex, 400, "pomerium_redirect_uri is required.", ctx.keep_alive);
  auto parsed = parse_http_url(*target);
  bool allowed = false;
  if (parsed) {
    if (parsed->host == "127.0.0.1" || parsed->host == "::1" || parsed->host == "localhost") allowed = true;
    for (const auto& d : c.settings.programmatic_redirect_domain_whitelist)
      if (parsed->host == d) allowed = true;
  }
  if (!allowed) {
    co_return co_await send_local(c, ex, 400,
                                  "pomerium_redirect_uri must be on a host in programmatic_redirect_domain_whitelist.",
                                  ctx.keep_alive);
  }
  if (!c.shared.auth->oidc || c.settings.authenticate_service_url.empty())
    co_return co_await send_local(c, ex, 503, "Sign-in is not configured.", ctx.keep_alive);
  const std::string url = signed_link(c.settings, "/.pomerium/sign_in", "sign_in", route_url(c, req, "/"), *target);
  co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "text/plain; charset=utf-8", url);
}

}  // namespace signin_detail

using namespace signin_detail;

// ---- public entry points ----------------------------------------------------------------------------------------

SessionLookup find_session(Connection& c, const RequestHeader& req) {
  SessionLookup out;
  std::string_view token;
  const auto authorization = core::trim(req[http::field::authorization]);
  if (authorization.size() > 9 && core::iequals(authorization.substr(0, 9), "Pomerium ")) {
    token = core::trim(authorization.substr(9));
    out.programmatic = true;
  } else if (authorization.size() > 16 && core::iequals(authorization.substr(0, 16), "Bearer Pomerium-")) {
    token = authorization.substr(16);
    out.programmatic = true;
  } else if (auto header = core::trim(req["X-Pomerium-Authorization"]); !header.empty()) {
    token = header;
    out.programmatic = true;
  } else if (auto value = find_cookie(req, c.settings.cookie_name)) {
    token = *value;
  }
  if (token.empty() || token.size() > session::max_sealed_size) return out;
  auto& cache = c.worker.handles;
  const std::int64_t now = session::unix_now();
  auto it = cache.find(token);
  if (it == cache.end()) {
    auto handle = session::open_handle(token, c.settings.cookie_secret, now);
    if (!handle) return out;
    if (cache.size() >= WorkerContext::max_cached_handles) cache.clear();
    it = cache.emplace(std::string(token), std::move(*handle)).first;
  }
  if (it->second.expires_at <= now) return out;
  out.session = c.shared.auth->store->get(it->second.session_id);
  return out;
}

net::Task<bool> require_sign_in(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx,
                                bool programmatic) {
  if (!c.shared.auth->oidc || c.settings.authenticate_service_url.empty()) {
    co_return co_await send_local(c, ex, 503,
                                  "This route requires sign-in, and sign-in is not configured (set idp_provider and "
                                  "authenticate_service_url), so access is denied.",
                                  ctx.keep_alive);
  }
  if (programmatic || !is_browser(req)) {
    ex.json = true;
    co_return co_await send_local(c, ex, 401, "Sign-in required.", ctx.keep_alive);
  }
  const std::string original = route_url(c, req, ctx.target);
  co_return co_await send_redirect(c, ex, signed_link(c.settings, "/.pomerium/sign_in", "sign_in", original),
                                   ctx.keep_alive);
}

net::Task<std::optional<bool>> handle_postern_endpoint(Connection& c, Exchange& ex, const RequestHeader& req,
                                                       const RequestContext& ctx) {
  const std::string_view path = ctx.path;
  if (path == "/.well-known/pomerium/jwks.json") {
    LocalResponse res;
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "max-age=60");
    res.set(http::field::access_control_allow_origin, "*");
    res.body() = c.shared.auth->signer->jwks_json();
    co_return co_await send_response(c, ex, res, ctx.keep_alive);
  }
  if (path == "/.well-known/pomerium/hpke-public-key") {
    LocalResponse res;
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/octet-stream");
    res.set(http::field::cache_control, "max-age=60");
    res.set(http::field::access_control_allow_origin, "*");
    res.body() = c.shared.auth->hpke_public_key;
    co_return co_await send_response(c, ex, res, ctx.keep_alive);
  }
  if (path == "/.well-known/pomerium" || path == "/.well-known/pomerium/") {
    const std::string origin = route_url(c, req, {});
    const std::string auth = c.settings.authenticate_service_url.empty()
                                 ? origin
                                 : c.settings.authenticate_service_url.origin();
    const json::object doc{{"issuer", origin + "/"},
                           {"jwks_uri", origin + "/.well-known/pomerium/jwks.json"},
                           {"authentication_callback_endpoint", auth + "/oauth2/callback"},
                           {"frontchannel_logout_uri", origin + "/.pomerium/sign_out"}};
    LocalResponse res;
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::access_control_allow_origin, "*");
    res.body() = json::serialize(doc);
    co_return co_await send_response(c, ex, res, ctx.keep_alive);
  }
  if (ctx.on_forward_auth_host) {
    if (path == "/verify") co_return co_await forward_auth_verify(c, ex, req, ctx);
    if (path == "/") co_return co_await forward_auth_sign_in(c, ex, req, ctx);
  }
  if (ctx.on_authenticate_host) {
    if (path == "/oauth2/callback") {
      if (!c.shared.auth->oidc) co_return co_await send_local(c, ex, 503, "Sign-in is not configured.", ctx.keep_alive);
      co_return co_await authenticate_callback(c, ex, req, ctx);
    }
    if (path == "/.pomerium/sign_in") co_return co_await authenticate_sign_in(c, ex, req, ctx);
    if (path == "/.pomerium/sign_out") co_return co_await authenticate_sign_out(c, ex, req, ctx);
    if (path == "/.pomerium/signed_out") {
      co_return co_await send_page(c, ex, 200, "You have been signed out.", ctx.keep_alive, {}, {});
    }
    if (path == "/.pomerium/" || path == "/.pomerium") co_return co_await user_page(c, ex, req, ctx, false);
    if (path == "/robots.txt") {
      co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "text/plain", "User-agent: *\nDisallow: /\n");
    }
    if (!ctx.host_known && path == "/") co_return co_await send_redirect(c, ex, "/.pomerium/", ctx.keep_alive);
  }
  if (!path.starts_with("/.pomerium")) co_return std::nullopt;
  if (!ctx.host_known && !ctx.on_authenticate_host) co_return std::nullopt;  // unknown host: the 404 page
  if (path == "/.pomerium/callback/" || path == "/.pomerium/callback") co_return co_await route_callback(c, ex, req, ctx);
  if (path == "/.pomerium/sign_out") co_return co_await route_sign_out(c, ex, req, ctx);
  if (path == "/.pomerium/user") co_return co_await user_page(c, ex, req, ctx, true);
  if (path == "/.pomerium/api/v1/login") co_return co_await programmatic_login(c, ex, req, ctx);
  if (path == "/.pomerium/jwt") co_return co_await assertion_endpoint(c, ex, req, ctx);
  if (path == "/.pomerium/routes") co_return co_await routes_portal(c, ex, req, ctx, false);
  if (path == "/.pomerium/api/v1/routes") co_return co_await routes_portal(c, ex, req, ctx, true);
  if (path == "/.pomerium/" || path == "/.pomerium") co_return co_await user_page(c, ex, req, ctx, false);
  co_return co_await send_local(c, ex, 404, "There is no such Postern page.", ctx.keep_alive);
}

const core::StringSet* user_groups(Connection& c, const session::Session& s) {
  const auto* d = c.worker.directory.get();
  if (const auto* g = d ? d->groups_of(s.user_id) : nullptr) return g;
  return s.claims.find("groups");
}

void strip_postern_credentials(RequestHeader& req, const config::Settings& settings) {
  const auto authorization = core::trim(req[http::field::authorization]);
  if ((authorization.size() >= 9 && core::iequals(authorization.substr(0, 9), "Pomerium ")) ||
      (authorization.size() >= 16 && core::iequals(authorization.substr(0, 16), "Bearer Pomerium-")))
    req.erase(http::field::authorization);
  remove_cookies(req, {settings.cookie_name, settings.authenticate_cookie_name, settings.csrf_cookie_name},
                 settings.csrf_cookie_name + "_");
}

std::span<const std::pair<std::string_view, std::string_view>> identity_headers(Connection& c,
                                                                                const session::Session& s,
                                                                                std::string_view route_host) {
  const std::int64_t now = session::unix_now();
  std::string& key = c.worker.assertion_key;
  key.assign(s.id);
  key += '|';
  key += route_host;
  auto& cache = c.worker.assertions;
  auto it = cache.find(key);
  (void)c.worker.directory.get();  // brings this worker's view of the directory up to date: version() is current
  const std::uint64_t directory_version = c.worker.directory.version();
  if (it == cache.end() || it->second.refresh_at <= now || it->second.directory_version != directory_version) {
    json::object claims = user_claims(c, s);
    claims["iss"] = route_host;
    claims["aud"] = route_host;
    claims["iat"] = now;
    const auto session_end = std::chrono::duration_cast<std::chrono::seconds>(s.expires_at.time_since_epoch()).count();
    claims["exp"] = std::min<std::int64_t>(now + assertion_ttl, session_end);
    if (cache.size() >= WorkerContext::max_cached_assertions) cache.clear();
    it = cache.insert_or_assign(key, WorkerContext::CachedAssertion{c.shared.auth->signer->sign(json::serialize(claims)),
                                                                     now + assertion_reuse, directory_version})
             .first;
  }
  auto& headers = c.worker.identity_headers;
  auto& values = c.worker.claim_values;
  headers.clear();
  values.clear();
  values.reserve(c.settings.jwt_claims_headers.size());  // no reallocation below: the views stay valid
  headers.emplace_back("X-Pomerium-Jwt-Assertion", it->second.jwt);
  for (const auto& [header, claim] : c.settings.jwt_claims_headers) {
    values.push_back(claim_value(c, s, claim));
    headers.emplace_back(header, values.back());
  }
  return headers;
}

}  // namespace postern::proxy
