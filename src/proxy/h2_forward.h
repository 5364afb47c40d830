#pragma once
// One exchange with an HTTP/2 upstream (h2_upstream.h): the request head the header rewriting wrote (c.head) goes
// out as a stream's HEADERS, the client's body streams up while the response streams down (both at once: gRPC's
// bidirectional calls), and the response's trailers reach an HTTP/2 client (grpc-status, grpc-message). The client
// may speak HTTP/2 (c.h2) or HTTP/1.1; for HTTP/1.1 the body is framed by Content-Length or chunked and trailers
// are dropped. Timeouts per stream: the route's `timeout` for the whole response (0: none), its `idle_timeout` (else
// timeout_idle) for each silence. Internal to the proxy module; forward (http_session.cpp) calls it.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http2/field.h"

#include "config/route_table.h"
#include "net/asio_types.h"
#include "net/upstream_pool.h"
#include "proxy/connection.h"

namespace postern::proxy {

// The upstream request as HTTP/2 sends it, from the HTTP/1.1 head the header rewriting wrote (request line, then
// "Name: value" lines): Host becomes :authority, names are lower-cased, Transfer-Encoding and TE dropped (HTTP/2
// frames its own body) and `te: trailers` added when the client asked for trailers. The other connection-specific
// fields are ClientSession's to drop.
struct H2Head {
  std::string method, path, authority;
  std::vector<http2::Field> fields;
};
[[nodiscard]] H2Head h2_head_from_http1(std::string_view head, bool trailers);

struct H2ExchangeResult {
  // Nothing was sent to the client: forward answers with this status and sentence.
  unsigned fail_status = 0;
  const char* fail_sentence = nullptr;
  bool fail_keep_alive = false;
  bool connect_failed = false;   // the upstream was not reachable (outlier detection: a connect failure)
  bool gateway_failed = false;   // it timed out, reset the stream or broke the protocol
  // The upstream chose HTTP/1.1 by ALPN on a new connection: forward goes on with it over HTTP/1.1.
  std::unique_ptr<net::UpstreamConnection> http1;
  bool keep_alive = false;  // answered: the client's connection may serve another request
};

// Precondition: c.head holds the upstream request head (rewrite_for_upstream) and c.endpoint its endpoint; `fresh`
// is a connection that just chose h2 by ALPN, or null.
net::Task<H2ExchangeResult> exchange_over_h2(Connection& c, Exchange& ex, RequestParser& parser,
                                             const config::CompiledRoute& route, bool client_keep_alive,
                                             bool send_continue, std::unique_ptr<net::UpstreamConnection> fresh);

}  // namespace postern::proxy
