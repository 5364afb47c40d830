#pragma once
// Go-style durations as Pomerium's configuration writes them: "30s", "1m30s", "14h", "1.5h", "250ms", "0".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

using Duration = std::chrono::milliseconds;

// Parses a Go duration (units ns, us, µs, ms, s, m, h; decimals allowed; "0" alone allowed). Sub-millisecond parts are
// rounded down. Returns nullopt on anything else, including negative values and values over 100 years.
[[nodiscard]] std::optional<Duration> parse_duration(std::string_view text);
// The canonical short form: "0s", "1m30s", "250ms".
[[nodiscard]] std::string format_duration(Duration d);

}  // namespace postern::core
