// Fuzz target: Accept header ranking. Must never crash; "application/json" alone always prefers JSON.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "portal/error_page.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)postern::portal::prefers_json(input);
  if (!postern::portal::prefers_json("application/json")) std::abort();
  return 0;
}
