#pragma once
// Transparent hashing so unordered maps keyed by std::string can be searched with a std::string_view, without
// building a temporary string on every lookup.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace postern::core {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace postern::core
