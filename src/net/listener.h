#pragma once
// Listening sockets: one per worker on the same address, with SO_REUSEPORT so the kernel spreads connections.
#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "net/asio_types.h"

namespace postern::net {

// Opens, binds (SO_REUSEADDR + SO_REUSEPORT) and listens. Port 0 binds a free port: open the first acceptor with
// port 0, then the others with the port it got. Throws boost::system::system_error on failure.
[[nodiscard]] Acceptor open_listener(boost::asio::io_context& io, const std::string& host,
                                                           unsigned short port);

}  // namespace postern::net
