// Forward-auth (forward_auth_url): see signin.h.
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "config/route_table.h"
#include "core/url.h"
#include "core/json.h"
#include "core/strings.h"
#include "portal/error_page.h"
#include "proxy/cookies.h"
#include "proxy/signin_detail.h"

namespace postern::proxy::signin_detail {
namespace http = boost::beast::http;
namespace json = boost::json;

using core::parse_http_url;

// The URL a forward-auth request asks about: ?uri=, else X-Original-URL (nginx), else X-Forwarded-Proto, -Host and
// -Uri (Traefik, Caddy). Parsed strictly (core/url.h); nullopt when absent or not an http(s) URL.
struct ForwardedTarget {
  ParsedUrl url;
  std::string text;  // as given
  std::string path;  // the path part of url.rest ("/" when empty)
};
std::optional<ForwardedTarget> forwarded_target(const RequestHeader& req, std::string_view target) {
  std::string url;
  if (auto q = query_param(target, "uri")) url = *q;
  else if (auto o = core::trim(req["X-Original-URL"]); !o.empty()) url = std::string(o);
  else if (auto h = core::trim(req["X-Forwarded-Host"]); !h.empty()) {
    const auto proto = core::trim(req["X-Forwarded-Proto"]);
    url = std::string(proto.empty() ? "https" : proto) + "://" + std::string(h) + std::string(core::trim(req["X-Forwarded-Uri"]));
  }
  if (url.empty() || url.size() > 8192) return std::nullopt;
  auto parsed = parse_http_url(url);
  if (!parsed) return std::nullopt;
  std::string path = parsed->rest.substr(0, parsed->rest.find_first_of("?#"));
  if (path.empty()) path = "/";
  return ForwardedTarget{std::move(*parsed), std::move(url), std::move(path)};
}

net::Task<bool> forward_auth_verify(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  ex.json = true;  // a machine asks; pages would be thrown away
  const auto target = forwarded_target(req, ctx.target);
  if (!target) co_return co_await send_local(c, ex, 400, "Name the request to check: ?uri=, X-Original-URL or X-Forwarded-Uri.", ctx.keep_alive);
  auto path = config::normalize_path(target->path);
  if (!path) co_return co_await send_local(c, ex, 403, "The request's path is refused.", ctx.keep_alive);
  const auto match = c.shared.snapshot->routes.match(target->url.host, target->url.port, *path);
  if (!match.route) co_return co_await send_local(c, ex, 403, "No route serves this URL.", ctx.keep_alive);
  auto lookup = find_session(c, req);
  if (lookup.session && c.shared.auth->refresher && lookup.session->tokens_expired(session::Clock::now()))
    lookup.session = co_await c.shared.auth->refresher->fresh(c.worker.pool, std::move(lookup.session));
  std::string method(core::trim(req["X-Forwarded-Method"]));
  if (method.empty()) method = std::string(core::trim(req["X-Original-Method"]));
  if (method.empty()) method = "GET";
  const auto decision = decide_for(c, *match.route, lookup.session.get(), method, *path);
  if (decision.outcome == authz::Outcome::sign_in_required) {
    LocalResponse res;
    res.result(http::status::unauthorized);
    // Where the fronting proxy sends the browser (nginx: auth_request_set $signin $upstream_http_x_auth_redirect).
    res.set("X-Auth-Redirect", c.settings.forward_auth_url.origin() + "/?uri=" + core::form_encode(target->text));
    auto page = portal::render_error(401, "Sign-in required.", ex.request_id, true);
    res.set(http::field::content_type, page.content_type);
    res.body() = std::move(page.body);
    co_return co_await send_response(c, ex, res, ctx.keep_alive);
  }
  if (decision.outcome != authz::Outcome::allow)
    co_return co_await send_local(c, ex, 403, "Access to this URL is denied.", ctx.keep_alive);
  LocalResponse res;
  res.result(http::status::ok);
  res.set(http::field::content_type, "text/plain");
  if (lookup.session && match.route->settings().pass_identity_headers.value_or(c.settings.pass_identity_headers))
    for (const auto& [name, value] : identity_headers(c, *lookup.session, target->url.host)) res.set(name, value);
  res.body() = "OK\n";
  co_return co_await send_response(c, ex, res, ctx.keep_alive);
}

// /?uri= on the forward-auth host: a browser nginx sent here signs in for that URL.
net::Task<bool> forward_auth_sign_in(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  const auto target = forwarded_target(req, ctx.target);
  if (!target || !is_our_url(c, target->text)) {
    co_return co_await send_page(c, ex, 400, "This sign-in link does not name a URL Postern serves.", ctx.keep_alive,
                                 {}, {});
  }
  if (!c.shared.auth->oidc || c.settings.authenticate_service_url.empty())
    co_return co_await send_local(c, ex, 503, "Sign-in is not configured.", ctx.keep_alive);
  co_return co_await send_redirect(c, ex, signed_link(c.settings, "/.pomerium/sign_in", "sign_in", target->text),
                                   ctx.keep_alive);
}

}  // namespace postern::proxy::signin_detail
