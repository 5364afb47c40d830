#pragma once
// Cryptographically secure randomness (OpenSSL's DRBG). Failure to get entropy is a broken invariant: we abort
// rather than hand out predictable bytes.
#include <cstddef>
#include <string>

namespace postern::core {

[[nodiscard]] std::string random_bytes(std::size_t n);
// 128 bits as 32 lower-case hex characters written to out[0..32), for request ids: unpredictable but not secret.
// Drawn from a per-thread generator (xoshiro256**) seeded from the system DRBG, so the hot path makes no system call,
// lock or allocation.
void random_hex_id(char* out) noexcept;
// `n` bytes from the same per-thread generator (trace and span ids): unpredictable enough, not secret.
void random_id_bytes(unsigned char* out, std::size_t n) noexcept;

}  // namespace postern::core
