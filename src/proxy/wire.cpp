#include "proxy/wire.h"

namespace postern::proxy {

std::size_t chunk_size_line(std::size_t n, char* out) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  char tmp[16];
  std::size_t len = 0;
  do {
    tmp[len++] = digits[n & 0xf];
    n >>= 4;
  } while (n != 0);
  for (std::size_t i = 0; i < len; ++i) out[i] = tmp[len - 1 - i];
  out[len] = '\r';
  out[len + 1] = '\n';
  return len + 2;
}

}  // namespace postern::proxy
