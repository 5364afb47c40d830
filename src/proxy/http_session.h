#pragma once
// One downstream HTTP/1.1 connection: reads requests under size and time limits, answers Postern's own endpoints,
// matches routes, and forwards to upstreams with streamed bodies, or tunnels websocket upgrades.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/worker_context.h"

namespace postern::proxy {

// Serves `socket` until the client leaves, a timeout fires, or the worker drains. Never throws.
boost::asio::awaitable<void> serve_connection(WorkerContext& worker, boost::asio::ip::tcp::socket socket);

}  // namespace postern::proxy
