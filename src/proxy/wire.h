#pragma once
// HTTP/1.1 body framing for what we relay: bodies (raw or chunked) are framed around the relay buffer, so a small
// message leaves in a single gathered write with its head (heads are written by header_rewrite.h into a HeadBuffer).
#include <cstddef>

namespace postern::proxy {

// Writes the chunk-size line for `n` bytes ("1f4\r\n") into `out` (at least 20 bytes); returns its length.
std::size_t chunk_size_line(std::size_t n, char* out) noexcept;

}  // namespace postern::proxy
