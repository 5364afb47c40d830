#pragma once
// http_redirect_addr (Pomerium's): a plain-http listener that answers every request with 301 to the same host and
// target on https (Postern's main address), so browsers typing http:// land on the TLS listener. Only hosts Postern
// serves (a route's `from` or the authenticate service) are redirected; anything else is 404, a malformed request 400.
// One request per connection, under timeout_read; nothing reaches an upstream.
#include "net/asio_types.h"
#include "proxy/worker_context.h"

namespace postern::proxy {

// `https_port`: the main listener's port (as bound), where the redirect points.
[[nodiscard]] net::Task<void> serve_https_redirect(WorkerContext& worker, net::Socket socket, std::uint16_t https_port);

}  // namespace postern::proxy
