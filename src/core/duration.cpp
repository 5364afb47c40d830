#include "core/duration.h"

#include <cmath>

namespace postern::core {

std::optional<Duration> parse_duration(std::string_view s) {
  if (s == "0") return Duration{0};
  if (s.empty()) return std::nullopt;
  double total_ms = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) return std::nullopt;
    s.remove_prefix(i);
    double unit_ms = 0;
    if (s.starts_with("ns")) {
      unit_ms = 1e-6;
      s.remove_prefix(2);
    } else if (s.starts_with("us")) {
      unit_ms = 1e-3;
      s.remove_prefix(2);
    } else if (s.starts_with("\xC2\xB5s")) {  // µs
      unit_ms = 1e-3;
      s.remove_prefix(3);
    } else if (s.starts_with("ms")) {
      unit_ms = 1;
      s.remove_prefix(2);
    } else if (s.starts_with("s")) {
      unit_ms = 1000;
      s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      unit_ms = 60'000;
      s.remove_prefix(1);
    } else if (s.starts_with("h")) {
      unit_ms = 3'600'000;
      s.remove_prefix(1);
    } else {
      return std::nullopt;  // missing or unknown unit
    }
    total_ms += value * unit_ms;
    if (total_ms > 100.0 * 365 * 24 * 3'600'000) return std::nullopt;
  }
  return Duration{static_cast<Duration::rep>(std::floor(total_ms))};
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms % 1000 != 0 && ms < 1000) return std::to_string(ms) + "ms";
  const auto h = ms / 3'600'000;
  ms %= 3'600'000;
  const auto m = ms / 60'000;
  ms %= 60'000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (ms) {
    if (ms % 1000 == 0) {
      out += std::to_string(ms / 1000) + "s";
    } else {
      out += std::to_string(ms / 1000) + "." + std::to_string(1000 + ms % 1000).substr(1) + "s";
    }
  }
  return out;
}

}  // namespace postern::core
