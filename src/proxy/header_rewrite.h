#pragma once
// The trust boundary for headers, as pure functions over Beast header objects: what an upstream receives and what a
// client gets back. No I/O here; every rule is unit tested.
#include "proxy/http_types.h"
#include <string>
#include <string_view>

#include "config/route_table.h"
#include "config/settings.h"

namespace postern::proxy {


// Removes hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) and
// every header named in Connection. With `keep_upgrade`, Upgrade survives (websocket handshakes).
void strip_hop_by_hop(Fields& fields, bool keep_upgrade);

// A client-sent X-Request-Id is kept when it is 1..128 characters of [A-Za-z0-9._:-]; otherwise nullopt.
[[nodiscard]] bool acceptable_request_id(std::string_view id) noexcept;

// The client address to report: the peer, or with `trusted_hops` > 0 the entry that many hops from the right of
// X-Forwarded-For (the peer counting as the first hop), when present and a valid IP.
[[nodiscard]] std::string effective_client_ip(std::string_view xff, std::string_view peer, std::uint32_t trusted_hops);

struct ForwardContext {
  std::string_view peer_ip;      // TCP peer
  std::string_view scheme;       // "http" or "https" as the client used
  std::string_view original_host;  // Host as the client sent it
  std::string_view request_id;
  std::string_view upstream_path;  // target after rewriting, with its query
  bool websocket = false;
};

// Turns a client request header into the one the upstream receives: hop-by-hop and Postern-internal headers
// (X-Pomerium-*) removed, X-Forwarded-For/-Proto/-Host, X-Request-Id, Host (to the upstream unless preserved or
// rewritten), the route's remove/set headers (set wins), target rewritten. Request framing (chunked or
// Content-Length) is left for the caller to restore.
void prepare_upstream_request(RequestHeader& req, const config::Settings& settings, const config::CompiledRoute& route,
                              const config::UpstreamTarget& target, const ForwardContext& ctx);

// Turns an upstream response header into the one the client receives: hop-by-hop removed (Upgrade kept for 101),
// global and route response headers set, X-Request-Id added.
void prepare_downstream_response(ResponseHeader& res, const config::Settings& settings,
                                 const config::CompiledRoute* route, std::string_view request_id);

// Adds the global response headers and X-Request-Id to a response Postern generates itself.
void add_local_response_headers(ResponseHeader& res, const config::Settings& settings, std::string_view request_id);

}  // namespace postern::proxy
