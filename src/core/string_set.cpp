#include "core/string_set.h"

#include <algorithm>

namespace postern::core {

StringSet::StringSet(std::vector<std::string> values) : owned_(std::move(values)) {
  values_.assign(owned_.begin(), owned_.end());
  index();
}

StringSet StringSet::borrowing(std::vector<std::string_view> values) {
  StringSet s;
  s.values_ = std::move(values);
  s.values_.shrink_to_fit();
  s.index();
  return s;
}

StringSet::StringSet(const StringSet& other) : owned_(other.owned_), values_(other.values_), sorted_(other.sorted_) {
  if (!owned_.empty()) values_.assign(owned_.begin(), owned_.end());
}

StringSet& StringSet::operator=(const StringSet& other) {
  if (this != &other) *this = StringSet(other);
  return *this;
}

void StringSet::index() {
  // Short lists are scanned (contains), so they need no index.
  if (values_.size() <= 8) return;
  sorted_.resize(values_.size());
  for (std::uint32_t i = 0; i < sorted_.size(); ++i) sorted_[i] = i;
  std::sort(sorted_.begin(), sorted_.end(), [&](std::uint32_t a, std::uint32_t b) { return values_[a] < values_[b]; });
}

bool StringSet::contains(std::string_view value) const noexcept {
  // Short lists: a scan compares lengths first and is cheaper than the indirection.
  if (sorted_.empty()) {
    for (const auto v : values_)
      if (v == value) return true;
    return false;
  }
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), value,
                                   [&](std::uint32_t i, std::string_view v) { return values_[i] < v; });
  return it != sorted_.end() && values_[*it] == value;
}

std::size_t StringSet::heap_bytes() const noexcept {
  std::size_t n = owned_.capacity() * sizeof(std::string) + values_.capacity() * sizeof(std::string_view) +
                  sorted_.capacity() * sizeof(std::uint32_t);
  for (const auto& s : owned_)
    if (s.size() >= sizeof(std::string)) n += s.capacity() + 1;
  return n;
}

}  // namespace postern::core
