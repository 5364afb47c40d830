#include "net/listener.h"

#include <sys/socket.h>

#include <boost/asio/socket_base.hpp>

namespace postern::net {

Acceptor open_listener(boost::asio::io_context& io, const std::string& host,
                                             unsigned short port) {
  using boost::asio::ip::tcp;
  const tcp::endpoint endpoint(boost::asio::ip::make_address(host), port);
  Acceptor acceptor(io.get_executor());
  acceptor.open(endpoint.protocol());
  acceptor.set_option(boost::asio::socket_base::reuse_address(true));
  const int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "setsockopt(SO_REUSEPORT)");
  }
  acceptor.bind(endpoint);
  acceptor.listen(4096);
  return acceptor;
}

}  // namespace postern::net
