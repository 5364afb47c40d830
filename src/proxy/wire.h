#pragma once
// HTTP/1.1 body framing for what we relay: bodies (raw or chunked) are framed around the relay buffer, so a small
// message leaves in a single gathered write with its head (heads are written by header_rewrite.h into a HeadBuffer).
#include <boost/asio/buffer.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace postern::proxy {

// Writes the chunk-size line for `n` bytes ("1f4\r\n") into `out` (at least 20 bytes); returns its length.
std::size_t chunk_size_line(std::size_t n, char* out) noexcept;

// The buffers of one write: an optional head, a body piece framed as a chunk when `chunked_out`, and the final
// chunk when the message is done.
// Not copyable: `buffers` may point into its own size_line.
struct Pieces {
  std::array<boost::asio::const_buffer, 5> buffers{};
  std::size_t count = 0;
  char size_line[24];

  Pieces(const Pieces&) = delete;
  Pieces& operator=(const Pieces&) = delete;

  Pieces(std::string_view head, const char* body, std::size_t n, bool chunked_out, bool done) {
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    if (!head.empty()) buffers[count++] = boost::asio::buffer(head);
    if (n > 0) {
      if (chunked_out) buffers[count++] = boost::asio::buffer(size_line, chunk_size_line(n, size_line));
      buffers[count++] = boost::asio::buffer(body, n);
      if (chunked_out) buffers[count++] = boost::asio::buffer(crlf);
    }
    if (done && chunked_out) buffers[count++] = boost::asio::buffer(last_chunk);
  }
};

}  // namespace postern::proxy
