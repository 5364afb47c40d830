// Fuzz target: Host header parsing and path normalisation, with their invariants: a parsed host is lower case with
// no port separator outside brackets' content; a normalised path starts with '/', has no empty, "." or ".."
// segment, no escape of an unreserved character, and normalising it again changes nothing.
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
  const auto normalized = postern::config::normalize_path(input);
  if (!normalized) return 0;  // refused (encoded slash or backslash, malformed escape)
  const std::string& p = *normalized;
  if (p.empty() || p.front() != '/') std::abort();
  if (p.find_first_of("\\#") != std::string::npos) std::abort();
  if (p.find("//") != std::string::npos || p.find("/./") != std::string::npos || p.find("/../") != std::string::npos)
    std::abort();
  // No escape of an unreserved character, '/' or '\\' survives; hex digits are upper case.
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') continue;
    if (i + 2 >= p.size()) std::abort();
    const char hi = p[i + 1], lo = p[i + 2];
    if (!((hi >= '0' && hi <= '9') || (hi >= 'A' && hi <= 'F')) || !((lo >= '0' && lo <= '9') || (lo >= 'A' && lo <= 'F')))
      std::abort();
    const int v = (hi <= '9' ? hi - '0' : hi - 'A' + 10) * 16 + (lo <= '9' ? lo - '0' : lo - 'A' + 10);
    if (v == '/' || v == '\\' || (v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') || (v >= '0' && v <= '9') ||
        v == '-' || v == '.' || v == '_' || v == '~')
      std::abort();
  }
  if (postern::config::normalize_path(p) != p) std::abort();
  return 0;
}
