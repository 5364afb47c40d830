#pragma once
// HTTP/1.1 wire format for message heads we forward. Beast parses; we write heads ourselves into one reusable string
// and frame bodies (raw or chunked) around the relay buffer, so a small message leaves in a single gathered write.
#include "proxy/http_types.h"
#include <string>

namespace postern::proxy {

// Appends "METHOD target HTTP/1.1\r\n", every field, and the blank line.
void append_request_head(const RequestHeader& req, std::string& out);
// Appends "HTTP/1.x code reason\r\n", every field, and the blank line.
void append_response_head(const ResponseHeader& res, std::string& out);
// Writes the chunk-size line for `n` bytes ("1f4\r\n") into `out` (at least 20 bytes); returns its length.
std::size_t chunk_size_line(std::size_t n, char* out) noexcept;

}  // namespace postern::proxy
