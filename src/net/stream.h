#pragma once
// A byte stream to a peer, plain TCP or TLS over TCP, usable wherever Beast wants an AsyncReadStream /
// AsyncWriteStream. Every stream is watched: its deadline (see watchdog.h) closes it when overdue. Not movable: it
// lives in its connection's coroutine frame or in a pool slot, so the watchdog can point at it.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <utility>

#include "net/asio_types.h"
#include "net/watchdog.h"

namespace postern::net {

class Stream : public Watched {
 public:
  using socket_type = Socket;
  using tls_type = boost::beast::ssl_stream<socket_type>;
  using executor_type = socket_type::executor_type;

  // A plain stream over a connected (or to-be-connected) socket.
  Stream(Watchdog& dog, socket_type socket) : Watched(dog), tcp_(std::move(socket)) {}
  // A TLS stream; the handshake is the caller's.
  Stream(Watchdog& dog, socket_type socket, boost::asio::ssl::context& ctx)
      : Watched(dog), tls_(std::make_unique<tls_type>(std::move(socket), ctx)), tcp_(tls_->get_executor()) {}

  executor_type get_executor() noexcept { return tcp().get_executor(); }
  [[nodiscard]] socket_type& tcp() noexcept { return tls_ ? boost::beast::get_lowest_layer(*tls_) : tcp_; }
  [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }
  [[nodiscard]] tls_type* tls() noexcept { return tls_.get(); }
  [[nodiscard]] bool is_open() noexcept { return tcp().is_open() && !expired_by(); }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (tls_) tls_->async_read_some(b, std::move(handler));
          else tcp_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (tls_) tls_->async_write_some(b, std::move(handler));
          else tcp_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  // Writes what a plain TCP socket takes right now, without suspending (no operation, no handler, no resumption:
  // the common small write costs one send). Returns the bytes written: fewer than asked, or 0, when the socket
  // would block — the caller writes the rest asynchronously; `ec` only for real errors. A TLS stream writes nothing
  // here (its record layer is Asio's to drive).
  template <class ConstBufferSequence>
  std::size_t write_now(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    if (tls_ || !tcp_.is_open()) return 0;
    if (!tcp_.non_blocking()) {
      tcp_.non_blocking(true, ec);  // affects only synchronous calls; Asio's async operations are unchanged
      if (ec) return 0;
    }
    const std::size_t n = tcp_.write_some(buffers, ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) ec = {};
    return n;
  }

  // Closes the socket at once (no TLS close_notify); pending operations complete with an error.
  void close() noexcept {
    boost::system::error_code ec;
    tcp().shutdown(socket_type::shutdown_both, ec);
    tcp().close(ec);
  }

 protected:
  void on_expire() noexcept override { close(); }

 private:
  std::unique_ptr<tls_type> tls_;
  socket_type tcp_;  // unused (and never opened) when tls_ is set
};

}  // namespace postern::net
