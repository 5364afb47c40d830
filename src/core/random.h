#pragma once
// Cryptographically secure randomness (OpenSSL's DRBG). Failure to get entropy is a broken invariant: we abort
// rather than hand out predictable bytes.
#include <string>

namespace postern::core {

[[nodiscard]] std::string random_bytes(std::size_t n);
// 128 random bits as 32 lower-case hex characters; used for request ids.
[[nodiscard]] std::string random_hex_id();

}  // namespace postern::core
