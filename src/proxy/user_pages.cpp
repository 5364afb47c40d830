// The pages about the signed-in user: /.pomerium/ (page and data), the routes portal, /.pomerium/jwt.
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/ip_address.h"
#include "core/json.h"
#include "core/strings.h"
#include "portal/error_page.h"
#include "proxy/cookies.h"
#include "proxy/signin_detail.h"

namespace postern::proxy::signin_detail {
namespace http = boost::beast::http;
namespace json = boost::json;

// What /.pomerium/ shows, as data: Pomerium's user info page ("page":"UserInfo"): the user, the session, every claim
// (the ID token's and userinfo's; never a token) and the groups policy sees.
json::object user_info_data(Connection& c, const session::Session& s) {
  auto seconds = [](session::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  };
  boost::system::error_code ec;
  auto claims = json::parse(s.claims_json(), ec);
  json::array groups;
  for (const auto g : shown_groups(c, s)) groups.emplace_back(g);
  return {{"page", "UserInfo"},
          {"user", {{"id", s.user_id}, {"email", s.email}, {"name", s.name}}},
          {"session",
           {{"id", s.id}, {"issued_at", seconds(s.issued_at)}, {"expires_at", seconds(s.expires_at)},
            {"tokens_expire_at", seconds(s.tokens_expire_at)}}},
          {"claims", !ec && claims.is_object() ? std::move(claims) : json::value(json::object{})},
          {"groups", std::move(groups)}};
}

net::Task<bool> user_page(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx,
                          bool as_json) {
  auto lookup = find_session(c, req);
  if (ctx.on_authenticate_host && !lookup.session) {
    if (auto handle = find_cookie(req, authenticate_cookie_name(c.settings)))
      lookup.session = session_from_handle(c, *handle);
  }
  // /.pomerium/ answers JSON to tools that ask for it (Accept: application/json), like Pomerium's user info page.
  if (!as_json && portal::prefers_json(req[http::field::accept])) {
    if (!lookup.session) {
      ex.json = true;
      co_return co_await send_local(c, ex, 401, "You are not signed in.", ctx.keep_alive);
    }
    co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "application/json",
                                  json::serialize(user_info_data(c, *lookup.session)) + "\n");
  }
  if (as_json) {
    if (!lookup.session) {
      ex.json = true;
      co_return co_await send_local(c, ex, 401, "You are not signed in.", ctx.keep_alive);
    }
    auto claims = user_claims(c, *lookup.session);
    claims["expires_at"] =
        std::chrono::duration_cast<std::chrono::seconds>(lookup.session->expires_at.time_since_epoch()).count();
    co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "application/json", json::serialize(claims) + "\n");
  }
  std::string body;
  if (!lookup.session) {
    body = "<p>You are not signed in.</p>";
    if (ctx.host_known && c.shared.auth->oidc && !c.settings.authenticate_service_url.empty()) {
      const std::string back = route_url(c, req, "/");
      body += "<p><a href=\"" + core::html_escape(signed_link(c.settings, "/.pomerium/sign_in", "sign_in", back)) +
              "\">Sign in</a></p>";
    }
  } else {
    const auto& s = *lookup.session;
    std::string groups;
    for (const auto g : shown_groups(c, s)) {
      if (!groups.empty()) groups += ", ";
      groups += core::html_escape(g);
    }
    const auto expires = std::chrono::system_clock::to_time_t(s.expires_at);
    std::tm tm{};
    gmtime_r(&expires, &tm);
    char when[40];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    body = fmt::format(
        "<table><tr><th>User ID</th><td><code>{}</code></td></tr><tr><th>Email</th><td>{}</td></tr>"
        "<tr><th>Name</th><td>{}</td></tr><tr><th>Groups</th><td>{}</td></tr>"
        "<tr><th>Session expires</th><td>{}</td></tr></table>"
        "<form method=\"get\" action=\"/.pomerium/sign_out\"><p><button type=\"submit\">Sign out</button></p></form>",
        core::html_escape(s.user_id), core::html_escape(s.email), core::html_escape(s.name),
        groups.empty() ? "(none)" : groups, when);
    // The same facts for tools that read the page: a JSON data block (`<` escaped, so it cannot end the script).
    std::string data = json::serialize(user_info_data(c, s));
    std::string escaped;
    escaped.reserve(data.size());
    for (const char ch : data) {
      if (ch == '<') escaped += "\\u003c";
      else escaped += ch;
    }
    body += "<script type=\"application/json\" id=\"pomerium-data\">" + escaped + "</script>";
  }
  LocalResponse res;
  res.result(http::status::ok);
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.body() = portal::render_page("Postern: who you are", body);
  co_return co_await send_response(c, ex, res, ctx.keep_alive);
}

// The routes portal (runtime flag routes_portal): the routes this user may reach, as Pomerium lists them. A route is
// listed when its policy allows this user a GET of its path (or of / for a prefix or regex route) now, from here.
// The decision of `route`'s policy for `s` (null: anonymous) asking `method` `path` from this request's client, now.
authz::Decision decide_for(Connection& c, const config::CompiledRoute& route, const session::Session* s,
                           std::string_view method, std::string_view path) {
  const authz::Subject subject =
      s ? authz::Subject{s->user_id, s->email, user_groups(c, *s), &s->claims} : authz::Subject{};
  authz::Input in;
  in.subject = s ? &subject : nullptr;
  in.method = method;
  in.path = path;
  in.source_ip = core::parse_ip(c.exchange.client_ip);
  in.now = std::chrono::system_clock::now();
  const auto& rs = route.settings();
  if (!rs.policy) return {};
  return rs.policy->evaluate(in);
}

json::array reachable_routes(Connection& c, const session::Session& s) {
  json::array out;
  const auto& routes = c.shared.snapshot->routes.routes();
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& rs = routes[i].settings();
    const std::string path = !rs.path.empty() ? rs.path : !rs.prefix.empty() ? rs.prefix : "/";
    if (decide_for(c, routes[i], &s, "GET", path).outcome != authz::Outcome::allow) continue;
    std::string from = rs.from;
    if (!rs.path.empty() || !rs.prefix.empty()) from += path;
    std::string name = rs.name;
    if (name.empty()) name = rs.from_host + (path == "/" ? "" : path);
    if (rs.tcp) name = rs.name.empty() ? rs.from_host + ":" + std::to_string(rs.from_port.value_or(0)) : rs.name;
    out.push_back(json::object{{"id", "route-" + std::to_string(i)},
                               {"name", name},
                               {"type", rs.tcp ? "tcp" : "http"},
                               {"from", from},
                               {"description", rs.description},
                               {"logo_url", rs.logo_url}});
  }
  return out;
}

net::Task<bool> routes_portal(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx,
                              bool as_json) {
  if (!c.settings.runtime_flags.routes_portal)
    co_return co_await send_local(c, ex, 404, "There is no such Postern page.", ctx.keep_alive);
  auto lookup = find_session(c, req);
  if (!lookup.session) {
    if (as_json || !is_browser(req)) {
      ex.json = true;
      co_return co_await send_local(c, ex, 401, "Sign-in required.", ctx.keep_alive);
    }
    co_return co_await require_sign_in(c, ex, req, ctx, false);
  }
  auto routes = reachable_routes(c, *lookup.session);
  if (as_json) {
    json::object doc;  // named: GCC 12 mishandles braced temporaries inside a coroutine's co_await expression
    doc["routes"] = std::move(routes);
    std::string text = json::serialize(doc) + "\n";
    co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "application/json", std::move(text));
  }
  std::string body = "<ul class=\"routes\">";
  for (const auto& r : routes) {
    const auto& o = r.as_object();
    const std::string from = core::json_string(o, "from"), logo = core::json_string(o, "logo_url");
    body += "<li>";
    if (!logo.empty() && (logo.starts_with("https://") || logo.starts_with("data:image/")))
      body += "<img alt=\"\" width=\"24\" height=\"24\" src=\"" + core::html_escape(logo) + "\"> ";
    body += "<a href=\"" + core::html_escape(from) + "\">" + core::html_escape(core::json_string(o, "name")) + "</a>";
    if (const auto d = core::json_string(o, "description"); !d.empty()) body += " — " + core::html_escape(d);
    body += "</li>";
  }
  if (routes.empty()) body += "<li>No routes are open to you.</li>";
  body += "</ul>";
  LocalResponse res;
  res.result(http::status::ok);
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.body() = portal::render_page("Postern: your routes", body);
  co_return co_await send_response(c, ex, res, ctx.keep_alive);
}

// /.pomerium/jwt (runtime flag pomerium_jwt_endpoint): the identity assertion this route host's upstreams receive.
net::Task<bool> assertion_endpoint(Connection& c, Exchange& ex, const RequestHeader& req, const RequestContext& ctx) {
  if (!c.settings.runtime_flags.pomerium_jwt_endpoint)
    co_return co_await send_local(c, ex, 404, "There is no such Postern page.", ctx.keep_alive);
  auto lookup = find_session(c, req);
  if (!lookup.session) {
    ex.json = true;
    co_return co_await send_local(c, ex, 401, "Sign-in required.", ctx.keep_alive);
  }
  const auto headers = identity_headers(c, *lookup.session, ctx.host);
  co_return co_await send_local(c, ex, 200, {}, ctx.keep_alive, "application/jwt", std::string(headers[0].second));
}

}  // namespace postern::proxy::signin_detail
