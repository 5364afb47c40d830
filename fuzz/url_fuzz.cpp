// Fuzz target: the strict redirect-URL parser. A parsed URL has a non-empty lower-case host of allowed characters,
// and its origin parses back to the same scheme, host and port.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto u = postern::core::parse_http_url(input);
  if (!u) return 0;
  if (u->host.empty()) std::abort();
  for (const char c : u->host)
    if ((c >= 'A' && c <= 'Z') || c == '@' || c == '/' || c == '\\') std::abort();
  auto again = postern::core::parse_http_url(u->origin());
  if (!again || again->host != u->host || again->port != u->port || again->scheme != u->scheme) std::abort();
  return 0;
}
