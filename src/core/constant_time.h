#pragma once
// Comparison of secrets in time independent of where they differ.
#include <string_view>

namespace postern::core {

// True when a and b are equal. Lengths are not secret; contents are compared in constant time.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace postern::core
