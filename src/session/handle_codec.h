#pragma once
// Sealed tokens that travel through browsers: session handles (the session cookie, and the programmatic
// `pomerium_jwt`), the sign-in state cookie and the cross-host handoff. Each is ChaCha20-Poly1305 over a small JSON
// object, bound to its purpose by the associated data, base64url encoded. Anything that fails to open is "absent".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace postern::session {

inline constexpr std::size_t max_sealed_size = 4096;

// Seals `payload` for `purpose` with a 32-byte key.
[[nodiscard]] std::string seal_json(const boost::json::object& payload, std::string_view key, std::string_view purpose);
// Opens what seal_json made with the same key and purpose; nullopt on any tampering, wrong key or size over the limit.
[[nodiscard]] std::optional<boost::json::object> open_json(std::string_view sealed, std::string_view key,
                                                           std::string_view purpose);

struct Handle {
  std::string session_id;
  std::int64_t expires_at = 0;  // unix seconds
};

[[nodiscard]] std::string seal_handle(const Handle& handle, std::string_view key);
// nullopt when not ours, altered, or expired at `now` (unix seconds).
[[nodiscard]] std::optional<Handle> open_handle(std::string_view sealed, std::string_view key, std::int64_t now);

[[nodiscard]] std::int64_t unix_now();

}  // namespace postern::session
