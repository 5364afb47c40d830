#pragma once
// The X25519 key Pomerium publishes at /.well-known/pomerium/hpke-public-key (its hosted-authenticate handshake seals
// to it). Derived from shared_secret (HKDF-SHA256, its own label), so every replica publishes the same key.
#include <string>
#include <string_view>

namespace postern::identity {

// The raw 32-byte X25519 public key (RFC 7748), as Pomerium serves it.
[[nodiscard]] std::string hpke_public_key(std::string_view shared_secret);

}  // namespace postern::identity
