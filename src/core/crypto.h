#pragma once
// Symmetric primitives over OpenSSL: hashes, MACs, key derivation and authenticated encryption. Keys are raw bytes
// in std::string; nothing here logs or keeps a copy.
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

[[nodiscard]] std::string sha256(std::string_view data);
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);
// HKDF-SHA256 (RFC 5869) with an empty salt.
[[nodiscard]] std::string hkdf_sha256(std::string_view key, std::string_view info, std::size_t length);

// ChaCha20-Poly1305 (RFC 8439) with a random 96-bit nonce: output = nonce ‖ ciphertext ‖ tag. `key` must be 32 bytes.
// `aad` is authenticated, not encrypted: bind a sealed value to its purpose (cookie name, host).
[[nodiscard]] std::string aead_seal(std::string_view key, std::string_view plaintext, std::string_view aad);
// nullopt when the input was not sealed with this key and aad (or was altered).
[[nodiscard]] std::optional<std::string> aead_open(std::string_view key, std::string_view sealed, std::string_view aad);

}  // namespace postern::core
