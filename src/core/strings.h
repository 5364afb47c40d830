#pragma once
// Small ASCII string helpers shared by every module.
#include <string>
#include <string_view>
#include <vector>

namespace postern::core {

[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] std::string to_upper(std::string_view s);
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;
// Splits on `sep`, trims each piece and drops empty ones.
[[nodiscard]] std::vector<std::string> split_trimmed(std::string_view s, char sep);
// Escapes a string for inclusion inside a JSON string literal (without the quotes).
[[nodiscard]] std::string json_escape(std::string_view s);
// Appends `s` escaped for a JSON string literal to `out`.
void append_json_escaped(std::string& out, std::string_view s);
// The most bytes json_escape_into can write for `n` input bytes (a control byte becomes \u00XX).
[[nodiscard]] constexpr std::size_t max_json_escaped_size(std::size_t n) noexcept { return 6 * n; }
// Writes `s` escaped for a JSON string literal to `out`, which has room for max_json_escaped_size(s.size()) bytes;
// returns the bytes written. Clean runs are checked and copied eight bytes at a time.
std::size_t json_escape_into(char* out, std::string_view s) noexcept;
// A byte a header value may not carry as it is: a control character other than HTAB (below 0x20, or DEL).
[[nodiscard]] constexpr bool is_control(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7f; }
// Whether `s` holds such a byte. Checked eight bytes at a time (identity headers carry a kilobyte-long assertion on
// every forwarded request).
[[nodiscard]] bool has_control_characters(std::string_view s) noexcept;
// Escapes &, <, >, " and ' for HTML text and attribute values.
[[nodiscard]] std::string html_escape(std::string_view s);

}  // namespace postern::core
