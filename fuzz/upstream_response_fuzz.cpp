// Fuzz target: an upstream's response parsed by UpstreamResponseParser and relayed through a small buffer, then
// the head the client would get. Whatever the upstream sends, the head Postern writes must parse cleanly (no header
// or response splitting) and keep the status.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory_resource>
#include <string>

#include "config/settings.h"
#include "proxy/header_rewrite.h"
#include "proxy/upstream_response.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  if (size > 64 * 1024) return 0;
  std::pmr::monotonic_buffer_resource arena;
  postern::proxy::UpstreamResponseParser p(&arena);
  p.header_limit(8 * 1024);
  p.body_limit(boost::none);
  char buf[7];
  const char* in = reinterpret_cast<const char*>(data);
  std::size_t left = size;
  boost::system::error_code ec;
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = sizeof buf;
    const std::size_t n = p.put(boost::asio::buffer(in, left), ec);
    in += n;
    left -= n;
    if (ec == http::error::need_buffer) continue;
    if (ec || n == 0) break;
  }
  if (!p.is_header_done()) return 0;
  static const postern::config::Settings settings;
  postern::proxy::HeadBuffer head;
  postern::proxy::write_downstream_response_head(p.get(), {.chunked = p.chunked(), .keep_alive = p.keep_alive()},
                                                 settings, nullptr, "fuzz-request", head);
  http::response_parser<http::empty_body> check;
  check.eager(false);
  check.header_limit(64 * 1024);  // ours grows the upstream's head by the headers Postern adds
  check.body_limit(boost::none);  // a declared Content-Length is passed on as it is
  const std::size_t used = check.put(boost::asio::buffer(head.view()), ec);
  if (ec || used != head.size() || !check.is_header_done()) std::abort();
  if (check.get().result_int() != p.get().result_int()) std::abort();
  return 0;
}
