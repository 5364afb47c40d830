#include "proxy/header_rewrite.h"

#include <gtest/gtest.h>

#include "config/loader.h"

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
  return {"10.0.0.7", "https", "app.example.com", "req-1", "/path?q=1", false};
}

}  // namespace

TEST(HeaderRewrite, StripsHopByHopAndConnectionNamedHeaders) {
  proxy::Fields f;
  f.set(http::field::connection, "keep-alive, X-Secret-Hop");
  f.set("X-Secret-Hop", "1");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::te, "trailers");
  f.set(http::field::upgrade, "websocket");
  f.set("Proxy-Connection", "keep-alive");
  f.set("X-Kept", "yes");
  proxy::strip_hop_by_hop(f, false);
  EXPECT_EQ(f.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(f.count(http::field::connection), 0u);
  EXPECT_EQ(f.count(http::field::keep_alive), 0u);
  EXPECT_EQ(f.count(http::field::te), 0u);
  EXPECT_EQ(f.count(http::field::upgrade), 0u);
  EXPECT_EQ(f.count("Proxy-Connection"), 0u);
  EXPECT_EQ(f["X-Kept"], "yes");
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
  proxy::prepare_upstream_request(req, fx.settings, fx.route(), fx.route().settings().to[0], context());
  EXPECT_EQ(req[http::field::host], "backend:8080");
  EXPECT_EQ(req["X-Forwarded-For"], "1.2.3.4, 10.0.0.7");
  EXPECT_EQ(req["X-Forwarded-Proto"], "https");
  EXPECT_EQ(req["X-Forwarded-Host"], "app.example.com");
  EXPECT_EQ(req["X-Request-Id"], "req-1");
  EXPECT_EQ(req.count("X-Pomerium-Jwt-Assertion"), 0u);
  EXPECT_EQ(req.count("X-Pomerium-Claim-Email"), 0u);
}

TEST(HeaderRewrite, PreserveHostAndHostRewrite) {
  Fixture keep("  - from: https://app.example.com\n    to: http://backend\n    preserve_host_header: true\n");
  proxy::RequestHeader req;
  req.set(http::field::host, "app.example.com");
  proxy::prepare_upstream_request(req, keep.settings, keep.route(), keep.route().settings().to[0], context());
  EXPECT_EQ(req[http::field::host], "app.example.com");

  Fixture rewrite("  - from: https://app.example.com\n    to: http://backend\n    host_rewrite: internal.local\n");
  proxy::RequestHeader req2;
  req2.set(http::field::host, "app.example.com");
  proxy::prepare_upstream_request(req2, rewrite.settings, rewrite.route(), rewrite.route().settings().to[0],
                                  context());
  EXPECT_EQ(req2[http::field::host], "internal.local");
}

TEST(HeaderRewrite, SetWinsOverRemove) {
  Fixture fx(
      "  - from: https://app.example.com\n    to: http://backend\n"
      "    remove_request_headers: [X-Drop, X-Both]\n"
      "    set_request_headers: {X-Both: set, X-New: new}\n");
  proxy::RequestHeader req;
  req.set("X-Drop", "1");
  req.set("X-Both", "client");
  proxy::prepare_upstream_request(req, fx.settings, fx.route(), fx.route().settings().to[0], context());
  EXPECT_EQ(req.count("X-Drop"), 0u);
  EXPECT_EQ(req["X-Both"], "set");
  EXPECT_EQ(req["X-New"], "new");
}

TEST(HeaderRewrite, SkipXffAppendLeavesXffAlone) {
  Fixture fx("  - from: https://app.example.com\n    to: http://backend\n", "skip_xff_append: true\n");
  proxy::RequestHeader req;
  proxy::prepare_upstream_request(req, fx.settings, fx.route(), fx.route().settings().to[0], context());
  EXPECT_EQ(req.count("X-Forwarded-For"), 0u);
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
  proxy::ResponseHeader res;
  res.result(http::status::ok);
  res.set(http::field::connection, "close");
  res.set(http::field::transfer_encoding, "chunked");
  proxy::prepare_downstream_response(res, fx.settings, &fx.route(), "req-9");
  EXPECT_EQ(res.count(http::field::connection), 0u);
  EXPECT_EQ(res.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(res["X-Frame-Options"], "SAMEORIGIN");
  EXPECT_EQ(res["X-XSS-Protection"], "1; mode=block");
  EXPECT_EQ(res["X-Route"], "r");
  EXPECT_EQ(res["X-Request-Id"], "req-9");
}
