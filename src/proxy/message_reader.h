#pragma once
// Feeding Beast's parser ourselves: bytes are read from the socket only when the parser needs more, and parsed
// synchronously with parser.put(). Compared with Beast's composed async_read operations this saves a handler hop
// (and often a post) per step, which matters on the hot path. Internal to the proxy module.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include "net/asio_types.h"
#include "net/stream.h"
#include "proxy/http_types.h"
#include "proxy/upstream_response.h"

namespace postern::proxy {

inline constexpr std::size_t header_limit = 64 * 1024;
// Read sizes: heads are small, so a head read asks for 4 KiB (the buffer grows when a head is bigger); body reads
// ask for 16 KiB. Small reads keep each connection's buffer small and dense in cache.
inline constexpr std::size_t head_read_size = 4 * 1024;
inline constexpr std::size_t body_read_size = 16 * 1024;

// Parses head bytes already in `buffer` without suspending. Returns true when it is decided: the head is complete
// (`ec` clear) or broken (`ec` set, http::error::header_limit past header_limit bytes in all); false when more bytes
// must be read. `consumed` accumulates across calls for one head.
template <class Parser>
bool try_parse_head(boost::beast::flat_buffer& buffer, Parser& parser, std::size_t& consumed,
                    boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  ec = {};
  if (buffer.size() > 0) {
    const std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    consumed += n;
    if (parser.is_header_done()) {
      ec = consumed > header_limit ? boost::system::error_code(http::error::header_limit) : boost::system::error_code{};
      return true;
    }
    if (ec && ec != http::error::need_more) return true;
    ec = {};
    if (consumed > header_limit || buffer.size() >= buffer.max_size()) {
      ec = http::error::header_limit;
      return true;
    }
  }
  return false;
}

// Reads a message head into `parser`: at most header_limit bytes in all, whether it arrives at once or over many
// reads (http::error::header_limit past it). Body bytes that came along stay in `buffer`. Callers try
// try_parse_head first: this coroutine is for when the socket must be read.
template <class Parser>
net::Task<boost::system::error_code> read_head(net::Stream& in, boost::beast::flat_buffer& buffer, Parser& parser, std::size_t consumed = 0) {
  namespace http = boost::beast::http;
  while (true) {
    boost::system::error_code ec;
    if (try_parse_head(buffer, parser, consumed, ec)) co_return ec;
    const std::size_t room = std::min<std::size_t>(head_read_size, buffer.max_size() - buffer.size());
    auto [rec, n] = co_await in.async_read_some(buffer.prepare(room), net::nothrow);
    if (rec) {
      if (rec == boost::asio::error::eof) co_return consumed + buffer.size() == 0 ? http::error::end_of_stream
                                                                                   : http::error::partial_message;
      co_return rec;
    }
    buffer.commit(n);
  }
}

// Parses body bytes already in `buffer` into [dst, dst + capacity) without suspending. Returns true when it made
// progress (body bytes produced, or the message completed); false when the socket must be read
// (read_body_some). `produced` gets the byte count.
template <class Parser>
bool parse_buffered_body(boost::beast::flat_buffer& buffer, Parser& parser, char* dst, std::size_t capacity,
                         std::size_t& produced, boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  auto& body = parser.get().body();
  body.data = dst;
  body.size = capacity;
  produced = 0;
  ec = {};
  while (!parser.is_done() && buffer.size() > 0) {
    const std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    produced = capacity - body.size;
    if (ec == http::error::need_buffer) {
      ec = {};
      return true;  // dst is full
    }
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) return true;  // the caller reports it
    if (produced > 0) return true;
    if (n == 0) break;
  }
  produced = capacity - body.size;
  return produced > 0 || parser.is_done();
}

// Reads the next piece of the body into [dst, dst + capacity): returns as soon as some body bytes are available or
// the message is complete (never waits to fill the buffer: streaming). `produced` gets the byte count.
template <class Parser>
net::Task<boost::system::error_code> read_body_some(net::Stream& in, boost::beast::flat_buffer& buffer,
                                                    Parser& parser,
                                                    char* dst, std::size_t capacity, std::size_t& produced) {
  namespace http = boost::beast::http;
  auto& body = parser.get().body();
  body.data = dst;
  body.size = capacity;
  produced = 0;
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      boost::system::error_code ec;
      const std::size_t n = parser.put(buffer.data(), ec);
      buffer.consume(n);
      produced = capacity - body.size;
      if (ec == http::error::need_buffer) break;  // dst is full
      if (ec && ec != http::error::need_more) co_return ec;
      if (produced > 0) break;
      if (n > 0 && !ec) continue;  // framing consumed (a chunk header): look again
    }
    const std::size_t room = std::min<std::size_t>(body_read_size, buffer.max_size() - buffer.size());
    auto [ec, n] = co_await in.async_read_some(buffer.prepare(room), net::nothrow);
    if (ec == boost::asio::error::eof && parser.need_eof()) {
      boost::system::error_code eof_ec;
      parser.put_eof(eof_ec);
      produced = capacity - body.size;
      co_return eof_ec;
    }
    if (ec) co_return ec == boost::asio::error::eof ? http::error::partial_message : ec;
    buffer.commit(n);
  }
  produced = capacity - body.size;
  co_return boost::system::error_code{};
}

}  // namespace postern::proxy
