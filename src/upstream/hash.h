#pragma once
// The 64-bit hash ring_hash and maglev place targets and requests with: FNV-1a over the bytes, then MurmurHash3's
// 64-bit finaliser so that nearby inputs land far apart. Stable across processes and builds, so replicas sharing a
// route send the same session to the same target.
#include <cstdint>
#include <string_view>

namespace postern::upstream {

[[nodiscard]] constexpr std::uint64_t hash64(std::string_view bytes, std::uint64_t seed = 0) noexcept {
  std::uint64_t h = 14695981039346656037ull ^ seed;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace postern::upstream
