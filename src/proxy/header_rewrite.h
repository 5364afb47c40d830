#pragma once
// The trust boundary for headers, as pure functions over Beast header objects: what an upstream receives and what a
// client gets back. No I/O here; every rule is unit tested.
#include "proxy/head_buffer.h"
#include "proxy/http_types.h"
#include "proxy/upstream_response.h"
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http2/field.h"

#include "config/route_table.h"
#include "config/settings.h"

namespace postern::proxy {


// A client-sent X-Request-Id is kept when it is 1..128 characters of [A-Za-z0-9._:-]; otherwise nullopt.
[[nodiscard]] bool acceptable_request_id(std::string_view id) noexcept;

// The client address to report: the peer, or with `trusted_hops` > 0 the entry that many hops from the right of
// X-Forwarded-For (the peer counting as the first hop), when present and a valid IP.
[[nodiscard]] std::string effective_client_ip(std::string_view xff, std::string_view peer, std::uint32_t trusted_hops);

// A header as a name and a value, both borrowed.
using HeaderView = std::pair<std::string_view, std::string_view>;

struct ForwardContext {
  std::string_view peer_ip;      // TCP peer
  std::string_view scheme;       // "http" or "https" as the client used
  std::string_view original_host;  // Host as the client sent it
  std::string_view request_id;
  std::string_view upstream_path;  // target after rewriting, with its query
  bool websocket = false;
  bool chunked = false;  // the body goes upstream chunked
  // The client certificate's facts for set_request_headers templates (${pomerium.client_cert_fingerprint},
  // ${pomerium.client_cert_san_dns}, ${pomerium.client_cert_san_email}); empty without one.
  std::string_view client_cert_fingerprint;
  std::span<const std::string> client_cert_san_dns, client_cert_san_email;
  // Tracing on: the traceparent the upstream receives (the client's is dropped); empty otherwise.
  std::string_view traceparent;
};

// A set_request_headers value with its templates expanded: the three client-certificate ones above, `$$` for a
// literal `$`; any other ${…} becomes empty (the loader warns about those). Values without `$` are copied as they are.
void append_template_value(HeadBuffer& out, std::string_view value, const ForwardContext& ctx);

// Writes the request head the upstream receives, from the client's: the method, the rewritten target and HTTP/1.1;
// hop-by-hop headers, those named in Connection, Postern-internal ones (X-Pomerium-*) and Expect dropped;
// X-Forwarded-For (appended unless skip_xff_append), X-Forwarded-Proto and -Host, X-Request-Id and Host (the
// upstream's unless preserved or rewritten) set; then the route's remove_request_headers and set_request_headers
// (set wins), then `identity` (the signed-in user's headers, which win over everything; control characters in their
// values become spaces, so no claim can add a header); then the framing
// (Transfer-Encoding: chunked when ctx.chunked; a client's Content-Length passes through). The client's header
// fields are read once and never modified: the head is written, not edited.
void write_upstream_request_head(const RequestHeader& req, const config::Settings& settings,
                                 const config::CompiledRoute& route, const config::UpstreamTarget& target,
                                 const ForwardContext& ctx, std::span<const HeaderView> identity, HeadBuffer& out);

// How a relayed response is framed towards the client.
struct DownstreamFraming {
  bool chunked = false;    // Transfer-Encoding: chunked
  bool keep_alive = true;  // otherwise Connection: close
};

// Writes the response head the client receives, from the upstream's: HTTP/1.1 and the upstream's status; hop-by-hop
// headers and those named in Connection dropped (Upgrade kept for a 101, which gets Connection: Upgrade); the
// global set_response_headers, X-Request-Id and the route's set_response_headers set, each replacing any earlier
// header of that name; then the framing.
void write_downstream_response_head(const UpstreamResponse& res, const DownstreamFraming& framing,
                                    const config::Settings& settings, const config::CompiledRoute* route,
                                    std::string_view request_id, HeadBuffer& out);

// The same fields for an HTTP/2 client (names lower-cased), without status line or framing: HTTP/2 frames the body
// itself (ServerSession::respond drops any connection-specific field left).
void downstream_response_fields(const UpstreamResponse& res, const config::Settings& settings,
                                const config::CompiledRoute* route, std::string_view request_id,
                                std::vector<http2::Field>& out);

// Adds the global response headers and X-Request-Id to a response Postern generates itself.
void add_local_response_headers(ResponseHeader& res, const config::Settings& settings, std::string_view request_id);

}  // namespace postern::proxy
