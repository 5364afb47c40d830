#pragma once
#include <span>
// Sign-in, sessions and identity on the data path: Postern's own endpoints (/.pomerium/*, /.well-known/pomerium*,
// the authenticate host's /oauth2/callback), finding a request's session, answering "sign-in needed", and the
// identity headers upstreams receive. The flow (see ARCHITECTURE.md): route host → authenticate host
// /.pomerium/sign_in (signed, expiring) → IdP → /oauth2/callback (state, PKCE, ID token) → route host
// /.pomerium/callback/ (sealed one-time handoff sets the route cookie) → the original URL.
#include <memory>
#include <optional>
#include <string>

#include "net/asio_types.h"
#include "proxy/connection.h"
#include "proxy/header_rewrite.h"
#include "session/session.h"

namespace postern::proxy {

struct RequestContext {
  std::string host;  // lower case, no port
  std::uint16_t port = 0;
  std::string path;  // normalised
  std::string_view target;  // as received, with the query
  bool on_authenticate_host = false;
  bool on_forward_auth_host = false;  // forward_auth_url's host: /verify and /?uri=
  bool host_known = false;  // some route serves this host
  bool keep_alive = false;
};

// Forward-auth (forward_auth_url): /verify answers whether the request named by ?uri= (or X-Original-URL, or
// X-Forwarded-Proto/-Host/-Uri) may pass its route: 200 with the identity headers, 401 when it needs sign-in, 403
// when policy denies or no route serves it. /?uri= sends a browser to sign in for that URL; the sign-in ends at
// that host's /.pomerium/callback/ (which the fronting proxy passes to Postern), setting the route cookie.
// Handles Postern's own endpoints; nullopt when `ctx.path` is not one of them (routing goes on). The bool is whether
// the connection may be kept.
[[nodiscard]] net::Task<std::optional<bool>> handle_postern_endpoint(Connection& c, Exchange& ex,
                                                                     const RequestHeader& req,
                                                                     const RequestContext& ctx);

struct SessionLookup {
  std::shared_ptr<const session::Session> session;  // null: none, or not valid
  bool programmatic = false;  // credentials came in a header: never redirect, answer 401
};
[[nodiscard]] SessionLookup find_session(Connection& c, const RequestHeader& req);

// For a request that needs a session: a browser is redirected to sign in; anything else gets 401.
[[nodiscard]] net::Task<bool> require_sign_in(Connection& c, Exchange& ex, const RequestHeader& req,
                                              const RequestContext& ctx, bool programmatic);

// The user's groups, for policy, upstreams and pages: the Okta directory's (group ids, then names) once it has a
// snapshot, else the session's `groups` claim; null when neither says.
[[nodiscard]] const core::StringSet* user_groups(Connection& c, const session::Session& s);

// Removes Postern's credentials (its cookies, Authorization: Pomerium …) from a request bound upstream.
void strip_postern_credentials(RequestHeader& req, const config::Settings& settings);

// X-Pomerium-Jwt-Assertion (cached per session and host) and the configured claim headers, as views into the
// worker's assertion cache and scratch (valid until the next call on this worker).
[[nodiscard]] std::span<const std::pair<std::string_view, std::string_view>> identity_headers(
    Connection& c, const session::Session& s, std::string_view route_host);

}  // namespace postern::proxy
