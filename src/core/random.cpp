#include "core/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace postern::core {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n != 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fputs("postern: fatal: the system random number generator failed\n", stderr);
    std::abort();
  }
  return out;
}

namespace {

class Xoshiro256 {
 public:
  Xoshiro256() {
    const std::string seed = random_bytes(sizeof s_);
    std::memcpy(s_, seed.data(), sizeof s_);
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace

void random_hex_id(char* out) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  thread_local Xoshiro256 generator;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = generator.next();
    for (int i = 0; i < 16; ++i) {
      out[half * 16 + i] = digits[v & 0xf];
      v >>= 4;
    }
  }
}

void random_id_bytes(unsigned char* out, std::size_t n) noexcept {
  thread_local Xoshiro256 generator;
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = generator.next();
    for (std::size_t j = i; j < n && j < i + 8; ++j) {
      out[j] = static_cast<unsigned char>(v);
      v >>= 8;
    }
  }
}

}  // namespace postern::core
