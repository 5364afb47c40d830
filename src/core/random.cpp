#include "core/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace postern::core {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n != 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fputs("postern: fatal: the system random number generator failed\n", stderr);
    std::abort();
  }
  return out;
}

std::string random_hex_id() {
  static constexpr char digits[] = "0123456789abcdef";
  const std::string raw = random_bytes(16);
  std::string out;
  out.reserve(32);
  for (const char c : raw) {
    out += digits[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += digits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

}  // namespace postern::core
