#include "core/string_set.h"

#include <algorithm>

namespace postern::core {

StringSet::StringSet(std::vector<std::string> values) : values_(std::move(values)) {
  sorted_.resize(values_.size());
  for (std::uint32_t i = 0; i < sorted_.size(); ++i) sorted_[i] = i;
  std::sort(sorted_.begin(), sorted_.end(), [&](std::uint32_t a, std::uint32_t b) { return values_[a] < values_[b]; });
}

bool StringSet::contains(std::string_view value) const noexcept {
  // Short lists: a scan compares lengths first and is cheaper than the indirection.
  if (values_.size() <= 8) {
    for (const auto& v : values_)
      if (v == value) return true;
    return false;
  }
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), value,
                                   [&](std::uint32_t i, std::string_view v) { return values_[i] < v; });
  return it != sorted_.end() && values_[*it] == value;
}

}  // namespace postern::core
