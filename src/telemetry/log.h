#pragma once
// Structured system logs: one JSON object per line on stderr, {"time","level","msg",...fields}. Never pass a token,
// cookie, code or secret as a field: callers log names and lengths, not values.
#include <initializer_list>
#include <string>
#include <string_view>

namespace postern::telemetry {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// A field: `value` is written as a JSON string unless `raw` (numbers, booleans).
struct Field {
  std::string_view key;
  std::string value;
  bool raw = false;
};
[[nodiscard]] inline Field num(std::string_view key, long long v) { return {key, std::to_string(v), true}; }
[[nodiscard]] inline Field boolean(std::string_view key, bool v) { return {key, v ? "true" : "false", true}; }

// Initialises the stderr logger; safe to call again to change the level.
void init_logging(Level level);
[[nodiscard]] Level parse_level(std::string_view name) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;
void log(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

// RFC 3339 UTC timestamp with milliseconds, e.g. 2026-11-29T08:00:00.123Z.
[[nodiscard]] std::string now_rfc3339();

}  // namespace postern::telemetry
