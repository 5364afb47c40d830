#include "proxy/header_rewrite.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <span>

#include "config/loader.h"
#include "proxy/upstream_response.h"

using namespace postern;
namespace http = boost::beast::http;

namespace {

struct Fixture {
  explicit Fixture(const std::string& route_yaml, const std::string& globals = "") {
    settings = config::load_settings_from_text(globals + "routes:\n" + route_yaml, "t.yaml", config::Environment());
    table = config::RouteTable(settings.routes, settings.default_upstream_timeout);
  }
  const config::CompiledRoute& route() const { return table.routes().front(); }
  config::Settings settings;
  config::RouteTable table;
};

proxy::ForwardContext context() {
  return {"10.0.0.7", "https", "app.example.com", "req-1", "/path?q=1", false, false};
}

// Parses a head as the peer would: a written head is only right if it reads back.
template <bool isRequest>
http::message<isRequest, http::empty_body> parse_head(const std::string& head) {
  http::parser<isRequest, http::empty_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  const auto n = parser.put(boost::asio::buffer(head), ec);
  EXPECT_FALSE(ec) << ec.message() << " in:\n" << head;
  EXPECT_EQ(n, head.size()) << head;
  EXPECT_TRUE(parser.is_header_done()) << head;
  return parser.release();
}

http::request<http::empty_body> upstream_head(const proxy::RequestHeader& req, const Fixture& fx,
                                              const proxy::ForwardContext& ctx = context(),
                                              std::span<const proxy::HeaderView> identity = {}) {
  proxy::HeadBuffer out;
  proxy::write_upstream_request_head(req, fx.settings, fx.route(), fx.route().settings().to[0], ctx, identity, out);
  return parse_head<true>(std::string(out.view()));
}

// The head the client gets for an upstream response head given as text.
http::response<http::empty_body> downstream_head(const std::string& upstream, const Fixture& fx,
                                                 proxy::DownstreamFraming framing = {}) {
  // The parser stores the head in a monotonic arena (it never frees), as production gives it one per request.
  std::pmr::monotonic_buffer_resource arena;
  proxy::UpstreamResponseParser parser(&arena);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(upstream), ec);
  EXPECT_TRUE(parser.is_header_done()) << ec.message();
  proxy::HeadBuffer out;
  proxy::write_downstream_response_head(parser.get(), framing, fx.settings, &fx.route(), "req-9", out);
  return parse_head<false>(std::string(out.view()));
}

}  // namespace

// Connection may list headers to drop, but never the framing: a body sent on without its Content-Length would be
// read by the upstream as the next request (smuggling); a response without it desynchronises the client.
TEST(HeaderRewrite, ConnectionCannotDropFramingOrHost) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n    preserve_host_header: true\n");
  proxy::RequestHeader req;
  req.method(http::verb::post);
  req.target("/");
  req.set(http::field::host, "app.example.com");
  req.set(http::field::connection, "content-length, Host, transfer-encoding, X-Forwarded-For, X-Hop");
  req.set(http::field::content_length, "80");
  req.set("X-Forwarded-For", "6.6.6.6");
  req.set("X-Hop", "1");
  const auto up = upstream_head(req, fx);
  EXPECT_EQ(up[http::field::content_length], "80");
  EXPECT_EQ(up[http::field::host], "app.example.com");
  EXPECT_EQ(up.count("X-Hop"), 0u);
  EXPECT_EQ(up["X-Forwarded-For"], "10.0.0.7") << "a forwarding header Connection names is dropped, not joined";

  const auto res = downstream_head(
      "HTTP/1.1 200 OK\r\nConnection: Content-Length, X-Hop\r\nContent-Length: 2\r\nX-Hop: 1\r\n\r\n", fx);
  EXPECT_EQ(res[http::field::content_length], "2");
  EXPECT_EQ(res.count("X-Hop"), 0u);
}

TEST(HeaderRewrite, UpstreamRequestGetsForwardingHeadersAndRewrittenHost) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend:8080\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  req.target("/path?q=1");
  req.set(http::field::host, "app.example.com");
  req.set("X-Forwarded-For", "1.2.3.4");
  req.set("X-Forwarded-Proto", "gopher");
  req.set("X-Pomerium-Jwt-Assertion", "forged");
  req.set("X-Pomerium-Claim-Email", "forged@example.com");
  req.set("X-Request-Id", "client-chosen");
  req.set(http::field::expect, "100-continue");
  req.set(http::field::connection, "keep-alive, X-Secret-Hop");
  req.set("X-Secret-Hop", "1");
  req.set(http::field::transfer_encoding, "gzip, chunked");
  req.set("X-Kept", "yes");
  const auto up = upstream_head(req, fx);
  EXPECT_EQ(up.method(), http::verb::get);
  EXPECT_EQ(up.target(), "/path?q=1");
  EXPECT_EQ(up.version(), 11);
  EXPECT_EQ(up[http::field::host], "backend:8080");
  EXPECT_EQ(up.count(http::field::host), 1u);
  EXPECT_EQ(up["X-Forwarded-For"], "1.2.3.4, 10.0.0.7");
  EXPECT_EQ(up.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(up["X-Forwarded-Proto"], "https");
  EXPECT_EQ(up.count("X-Forwarded-Proto"), 1u);
  EXPECT_EQ(up["X-Forwarded-Host"], "app.example.com");
  EXPECT_EQ(up["X-Request-Id"], "req-1");
  EXPECT_EQ(up.count("X-Request-Id"), 1u);
  EXPECT_EQ(up.count("X-Pomerium-Jwt-Assertion"), 0u);
  EXPECT_EQ(up.count("X-Pomerium-Claim-Email"), 0u);
  EXPECT_EQ(up.count(http::field::expect), 0u);
  EXPECT_EQ(up.count(http::field::connection), 0u);
  EXPECT_EQ(up.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(up.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(up["X-Kept"], "yes");
}

TEST(HeaderRewrite, UpstreamRequestFramingAndWebsocketUpgrade) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n");
  proxy::RequestHeader req;
  req.method(http::verb::post);
  req.target("/upload");
  req.set(http::field::transfer_encoding, "chunked");
  auto ctx = context();
  ctx.chunked = true;
  const auto chunked = upstream_head(req, fx, ctx);
  EXPECT_EQ(chunked[http::field::transfer_encoding], "chunked");
  EXPECT_EQ(chunked.count(http::field::transfer_encoding), 1u);

  proxy::RequestHeader with_length;
  with_length.method(http::verb::put);
  with_length.set(http::field::content_length, "5");
  EXPECT_EQ(upstream_head(with_length, fx)[http::field::content_length], "5");

  proxy::RequestHeader ws;
  ws.method(http::verb::get);
  ws.set(http::field::connection, "Upgrade");
  ws.set(http::field::upgrade, "websocket");
  ws.set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  ctx = context();
  ctx.websocket = true;
  const auto up = upstream_head(ws, fx, ctx);
  EXPECT_EQ(up[http::field::connection], "Upgrade");
  EXPECT_EQ(up[http::field::upgrade], "websocket");
  EXPECT_EQ(up["Sec-WebSocket-Key"], "dGhlIHNhbXBsZSBub25jZQ==");
  // Without the websocket flag, Upgrade is hop-by-hop like the rest.
  EXPECT_EQ(upstream_head(ws, fx).count(http::field::upgrade), 0u);
}

TEST(HeaderRewrite, TrustedHopsKeepTheClientsForwardingHeaders) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n", "xff_num_trusted_hops: 1\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  req.set("X-Forwarded-Proto", "http");
  req.set("X-Forwarded-Host", "outer.example.com");
  const auto up = upstream_head(req, fx);
  EXPECT_EQ(up["X-Forwarded-Proto"], "http");
  EXPECT_EQ(up.count("X-Forwarded-Proto"), 1u);
  EXPECT_EQ(up["X-Forwarded-Host"], "outer.example.com, app.example.com");
  EXPECT_EQ(up.count("X-Forwarded-Host"), 1u);
  proxy::RequestHeader bare;
  bare.method(http::verb::get);
  bare.set("X-Forwarded-Proto", "");
  const auto up2 = upstream_head(bare, fx);
  EXPECT_EQ(up2["X-Forwarded-Proto"], "https");
  EXPECT_EQ(up2.count("X-Forwarded-Proto"), 1u);
  EXPECT_EQ(up2["X-Forwarded-Host"], "app.example.com");
}

TEST(HeaderRewrite, IdentityHeadersWinOverEverything) {
  Fixture fx(
      "  - from: https://app.example.com\n    to: http://backend\n"
      "    set_request_headers: {X-Email: route}\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  req.set("X-Email", "forged@example.com");
  req.set("X-Pomerium-Jwt-Assertion", "forged");
  const std::array<proxy::HeaderView, 2> identity{proxy::HeaderView{"X-Pomerium-Jwt-Assertion", "signed"},
                                                  proxy::HeaderView{"X-Email", "alice@example.com"}};
  const auto up = upstream_head(req, fx, context(), identity);
  EXPECT_EQ(up["X-Pomerium-Jwt-Assertion"], "signed");
  EXPECT_EQ(up.count("X-Pomerium-Jwt-Assertion"), 1u);
  EXPECT_EQ(up["X-Email"], "alice@example.com");
  EXPECT_EQ(up.count("X-Email"), 1u);
}

// A user who can edit their own profile at the identity provider must not be able to add headers upstream.
TEST(HeaderRewrite, ClaimValuesCannotStartHeaders) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  const std::string name("Mallory\r\nX-Pomerium-Jwt-Assertion: forged\r\nX-Admin: 1\n\0tail", 59);
  const std::array<proxy::HeaderView, 2> identity{proxy::HeaderView{"X-Pomerium-Jwt-Assertion", "signed"},
                                                  proxy::HeaderView{"X-Pomerium-Claim-Name", name}};
  const auto up = upstream_head(req, fx, context(), identity);
  EXPECT_EQ(up.count("X-Admin"), 0u);
  EXPECT_EQ(up.count("X-Pomerium-Jwt-Assertion"), 1u);
  EXPECT_EQ(up["X-Pomerium-Jwt-Assertion"], "signed");
  EXPECT_EQ(up["X-Pomerium-Claim-Name"], "Mallory  X-Pomerium-Jwt-Assertion: forged  X-Admin: 1  tail");
}

TEST(HeaderRewrite, PreserveHostAndHostRewrite) {
  Fixture keep("  - from: https://app.example.com\n    to: http://backend\n    preserve_host_header: true\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  req.set(http::field::host, "app.example.com");
  EXPECT_EQ(upstream_head(req, keep)[http::field::host], "app.example.com");
  EXPECT_EQ(upstream_head(req, keep).count(http::field::host), 1u);

  Fixture rewrite("  - from: https://app.example.com\n    to: http://backend\n    host_rewrite: internal.local\n");
  proxy::RequestHeader req2;
  req2.method(http::verb::get);
  req2.set(http::field::host, "app.example.com");
  EXPECT_EQ(upstream_head(req2, rewrite)[http::field::host], "internal.local");
  EXPECT_EQ(upstream_head(req2, rewrite).count(http::field::host), 1u);
}

TEST(HeaderRewrite, SetWinsOverRemove) {
  Fixture fx(
      "  - from: https://app.example.com\n    to: http://backend\n"
      "    remove_request_headers: [X-Drop, X-Both]\n"
      "    set_request_headers: {X-Both: set, X-New: new}\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  req.set("X-Drop", "1");
  req.set("X-Both", "client");
  const auto up = upstream_head(req, fx);
  EXPECT_EQ(up.count("X-Drop"), 0u);
  EXPECT_EQ(up["X-Both"], "set");
  EXPECT_EQ(up.count("X-Both"), 1u);
  EXPECT_EQ(up["X-New"], "new");

  // Headers Postern adds are subject to the route's lists too.
  Fixture own(
      "  - from: https://app.example.com\n    to: http://backend\n"
      "    remove_request_headers: [X-Forwarded-Host]\n"
      "    set_request_headers: {Host: chosen.internal, X-Request-Id: fixed}\n");
  const auto up2 = upstream_head(req, own);
  EXPECT_EQ(up2.count("X-Forwarded-Host"), 0u);
  EXPECT_EQ(up2[http::field::host], "chosen.internal");
  EXPECT_EQ(up2.count(http::field::host), 1u);
  EXPECT_EQ(up2["X-Request-Id"], "fixed");
  EXPECT_EQ(up2.count("X-Request-Id"), 1u);
}

TEST(HeaderRewrite, SkipXffAppendLeavesXffAlone) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n", "skip_xff_append: true\n");
  proxy::RequestHeader req;
  req.method(http::verb::get);
  EXPECT_EQ(upstream_head(req, fx).count("X-Forwarded-For"), 0u);
  req.set("X-Forwarded-For", "1.2.3.4");
  EXPECT_EQ(upstream_head(req, fx)["X-Forwarded-For"], "1.2.3.4");
}

TEST(HeaderRewrite, EffectiveClientIpHonoursTrustedHops) {
  EXPECT_EQ(proxy::effective_client_ip("1.1.1.1, 2.2.2.2", "10.0.0.1", 0), "10.0.0.1");
  EXPECT_EQ(proxy::effective_client_ip("1.1.1.1, 2.2.2.2", "10.0.0.1", 1), "2.2.2.2");
  EXPECT_EQ(proxy::effective_client_ip("1.1.1.1, 2.2.2.2", "10.0.0.1", 2), "1.1.1.1");
  EXPECT_EQ(proxy::effective_client_ip("1.1.1.1", "10.0.0.1", 3), "10.0.0.1");
  EXPECT_EQ(proxy::effective_client_ip("not-an-ip", "10.0.0.1", 1), "10.0.0.1");
}

TEST(HeaderRewrite, RequestIdMustBeSane) {
  EXPECT_TRUE(proxy::acceptable_request_id("abc-123_4.5:6"));
  EXPECT_FALSE(proxy::acceptable_request_id(""));
  EXPECT_FALSE(proxy::acceptable_request_id("has space"));
  EXPECT_FALSE(proxy::acceptable_request_id("quote\"inject"));
  EXPECT_FALSE(proxy::acceptable_request_id(std::string(129, 'a')));
}

TEST(HeaderRewrite, ResponseGetsSecurityHeadersAndLosesHopByHop) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n    set_response_headers: {X-Route: r}\n");
  const auto out = downstream_head(
      "HTTP/1.1 200 OK\r\n"
      "Connection: close, X-Secret-Hop\r\n"
      "X-Secret-Hop: 1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Frame-Options: ALLOW-FROM evil\r\n"
      "x-request-id: upstream-chosen\r\n"
      "Content-Type: text/plain\r\n"
      "Set-Cookie: a=1\r\n"
      "Set-Cookie: b=2\r\n"
      "\r\n",
      fx);
  EXPECT_EQ(out.version(), 11);
  EXPECT_EQ(out.result(), http::status::ok);
  EXPECT_EQ(out.count(http::field::connection), 0u);
  EXPECT_EQ(out.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(out.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(out.count(http::field::keep_alive), 0u);
  EXPECT_EQ(out["X-Frame-Options"], "SAMEORIGIN");
  EXPECT_EQ(out.count("X-Frame-Options"), 1u);
  EXPECT_EQ(out["X-XSS-Protection"], "1; mode=block");
  EXPECT_EQ(out["X-Route"], "r");
  EXPECT_EQ(out["X-Request-Id"], "req-9");
  EXPECT_EQ(out.count("X-Request-Id"), 1u);
  EXPECT_EQ(out[http::field::content_type], "text/plain");
  EXPECT_EQ(out.count(http::field::set_cookie), 2u);
}

TEST(HeaderRewrite, ResponseFramingAndRouteOverrides) {
  Fixture fx(
      "  - from: https://app.example.com\n    to: http://backend\n"
      "    set_response_headers: {X-Frame-Options: DENY}\n");
  const auto chunked_close =
      downstream_head("HTTP/1.0 404 Nope\r\nContent-Type: text/html\r\n\r\n", fx, {.chunked = true, .keep_alive = false});
  EXPECT_EQ(chunked_close.version(), 11);
  EXPECT_EQ(chunked_close.result_int(), 404u);
  EXPECT_EQ(chunked_close.reason(), "Nope");
  EXPECT_EQ(chunked_close[http::field::transfer_encoding], "chunked");
  EXPECT_EQ(chunked_close[http::field::connection], "close");
  EXPECT_EQ(chunked_close["X-Frame-Options"], "DENY");
  EXPECT_EQ(chunked_close.count("X-Frame-Options"), 1u);
  // No reason phrase: the standard one.
  EXPECT_EQ(downstream_head("HTTP/1.1 503 \r\n\r\n", fx).reason(), "Service Unavailable");

  const auto up = downstream_head(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      fx);
  EXPECT_EQ(up.result_int(), 101u);
  EXPECT_EQ(up[http::field::upgrade], "websocket");
  EXPECT_EQ(up[http::field::connection], "Upgrade");
  EXPECT_EQ(up.count(http::field::connection), 1u);
  EXPECT_EQ(up["Sec-WebSocket-Accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// An HTTP/2 client gets the same fields as an HTTP/1.1 one, as name/value pairs in lower case, without the framing
// and connection fields HTTP/2 has no use for.
TEST(HeaderRewrite, Http2ResponseFieldsMatchTheHttp1Head) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n"
             "    set_response_headers: {X-Route: r}\n",
             "set_response_headers: {X-Global: g}\n");
  const std::string upstream =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"
      "Keep-Alive: timeout=5\r\nX-Request-Id: from-upstream\r\nX-Route: upstream\r\nContent-Length: 2\r\n\r\n";
  std::pmr::monotonic_buffer_resource arena;
  proxy::UpstreamResponseParser parser(&arena);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(upstream), ec);
  ASSERT_TRUE(parser.is_header_done()) << ec.message();
  std::vector<http2::Field> fields;
  proxy::downstream_response_fields(parser.get(), fx.settings, &fx.route(), "req-9", fields);
  std::vector<std::string> got;
  for (const auto& f : fields) got.push_back(f.name + ": " + f.value);
  // The upstream's fields minus connection ones and those Postern sets, then the global headers (Pomerium's
  // defaults and X-Global), X-Request-Id and the route's.
  const std::vector<std::string> want{"content-type: text/plain",      "content-length: 2",
                                      "x-frame-options: SAMEORIGIN",   "x-xss-protection: 1; mode=block",
                                      "x-global: g",                   "x-request-id: req-9",
                                      "x-route: r"};
  EXPECT_EQ(got, want);
  const auto head = downstream_head(upstream, fx);  // the HTTP/1.1 head says the same
  for (const auto& f : fields) EXPECT_EQ(head[f.name], f.value) << f.name;
}
