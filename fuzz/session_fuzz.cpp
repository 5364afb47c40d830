// Fuzz target: opening sealed session handles, handoffs and sign-in flows from untrusted cookie and query values.
// Random input must never open (it is not sealed with our key), crash or hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "session/handle_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string key(32, 'k');
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (postern::session::open_handle(input, key, 0)) std::abort();
  if (postern::session::open_json(input, key, "postern handoff v1")) std::abort();
  return 0;
}
