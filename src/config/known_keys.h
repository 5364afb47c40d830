#pragma once
// Which Pomerium keys Postern implements, which it knows but does not implement yet (accepted with a warning), and
// everything else (unknown: warned about and ignored, as Pomerium does).
#include <string_view>

namespace postern::config {

enum class KeyStatus { implemented, not_supported_yet, unknown };

[[nodiscard]] KeyStatus global_key_status(std::string_view key) noexcept;
[[nodiscard]] KeyStatus route_key_status(std::string_view key) noexcept;

// Keys whose environment variable should be checked for "not supported yet" warnings (upper-cased by the caller).
[[nodiscard]] const std::string_view* pending_global_keys(std::size_t& count) noexcept;

}  // namespace postern::config
