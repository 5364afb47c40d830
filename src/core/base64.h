#pragma once
// Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) codecs. Decoders are strict: they reject characters
// outside the alphabet and impossible lengths, and return nullopt rather than guessing.
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
// Accepts padded input; surrounding ASCII whitespace and embedded newlines (as in `base64` output) are ignored.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);
// Accepts unpadded or padded input.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace postern::core
