#pragma once
// One downstream HTTP/1.1 connection: reads requests under size and time limits, answers Postern's own endpoints,
// matches routes, and forwards to upstreams with streamed bodies, or tunnels websocket upgrades.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/asio_types.h"
#include "proxy/worker_context.h"

namespace postern::proxy {

// Serves `socket` until the client leaves, a timeout fires, or the worker drains. Never throws.
net::Task<void> serve_connection(WorkerContext& worker, net::Socket socket);

}  // namespace postern::proxy
