// Fuzz target: Cookie header parsing and the removal of Postern's cookies before forwarding. After removal the
// named cookie is never found again.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/cookies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (input.find_first_of("\r\n") != std::string::npos || input.find('\0') != std::string::npos) return 0;
  postern::proxy::Fields fields;
  fields.insert(boost::beast::http::field::cookie, input);
  (void)postern::proxy::find_cookie(fields, "_pomerium");
  postern::proxy::remove_cookies(fields, {"_pomerium", "_pomerium_csrf"});
  if (postern::proxy::find_cookie(fields, "_pomerium")) std::abort();
  return 0;
}
