#pragma once
// What Postern's own endpoints share inside the proxy module: the sign-in flow (signin.cpp), the pages about the user
// and their routes (user_pages.cpp) and forward-auth (forward_auth.cpp). Not for other modules.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/policy.h"
#include "config/route_table.h"
#include "core/url.h"
#include "net/asio_types.h"
#include "proxy/connection.h"
#include "proxy/signin.h"
#include "session/session.h"

namespace postern::proxy::signin_detail {

using ParsedUrl = core::HttpUrl;

// The value of query parameter `name` in an origin-form target, decoded.
[[nodiscard]] std::optional<std::string> query_param(std::string_view target, std::string_view name);
// A link to `path` on the authenticate host, signed with shared_secret and valid for 15 minutes.
[[nodiscard]] std::string signed_link(const config::Settings& s, std::string_view path, std::string_view kind,
                                      std::string_view redirect, std::string_view programmatic = {},
                                      std::string_view sid = {});
// A URL Postern may send a browser to: one of its route hosts or its authenticate host. Nothing else, ever.
[[nodiscard]] bool is_our_url(const Connection& c, std::string_view url, ParsedUrl* out = nullptr);
[[nodiscard]] std::string route_url(const Connection& c, const RequestHeader& req, std::string_view target);
// Pomerium's rule: redirect to sign in unless the client asked for JSON (or another non-HTML type) or is an XHR.
[[nodiscard]] bool is_browser(const RequestHeader& req);
[[nodiscard]] const std::string& authenticate_cookie_name(const config::Settings& s);
[[nodiscard]] std::shared_ptr<const session::Session> session_from_handle(const Connection& c, std::string_view sealed);
// The groups upstreams and the user page see: the directory's ids and names, else the token's groups claim.
[[nodiscard]] std::vector<std::string_view> shown_groups(Connection& c, const session::Session& s);
[[nodiscard]] boost::json::object user_claims(Connection& c, const session::Session& s);

// user_pages.cpp
// The decision of `route`'s policy for `s` (null: anonymous) asking `method` `path` from this request's client, now.
[[nodiscard]] authz::Decision decide_for(Connection& c, const config::CompiledRoute& route, const session::Session* s,
                                         std::string_view method, std::string_view path);
[[nodiscard]] net::Task<bool> user_page(Connection& c, Exchange& ex, const RequestHeader& req,
                                        const RequestContext& ctx, bool as_json);
[[nodiscard]] net::Task<bool> routes_portal(Connection& c, Exchange& ex, const RequestHeader& req,
                                            const RequestContext& ctx, bool as_json);
[[nodiscard]] net::Task<bool> assertion_endpoint(Connection& c, Exchange& ex, const RequestHeader& req,
                                                 const RequestContext& ctx);

// forward_auth.cpp
[[nodiscard]] net::Task<bool> forward_auth_verify(Connection& c, Exchange& ex, const RequestHeader& req,
                                                  const RequestContext& ctx);
[[nodiscard]] net::Task<bool> forward_auth_sign_in(Connection& c, Exchange& ex, const RequestHeader& req,
                                                   const RequestContext& ctx);

}  // namespace postern::proxy::signin_detail
