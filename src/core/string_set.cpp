#include "core/string_set.h"

#include <algorithm>
#include <cstring>

namespace postern::core {

void StringSet::build(std::span<const std::string_view> values, bool own) {
  size_ = static_cast<std::uint32_t>(values.size());
  owns_ = own;
  if (size_ == 0) {
    block_.reset();
    block_bytes_ = 0;
    return;
  }
  const std::size_t views_bytes = size_ * sizeof(std::string_view);
  const std::size_t index_bytes = size_ >= indexed_from ? size_ * sizeof(std::uint32_t) : 0;
  std::size_t chars = 0;
  if (own)
    for (const auto v : values) chars += v.size();
  block_bytes_ = static_cast<std::uint32_t>(views_bytes + index_bytes + chars);
  block_ = std::make_unique_for_overwrite<std::byte[]>(block_bytes_);
  auto* out_views = reinterpret_cast<std::string_view*>(block_.get());
  char* text = reinterpret_cast<char*>(block_.get() + views_bytes + index_bytes);
  for (std::uint32_t i = 0; i < size_; ++i) {
    if (own) {
      if (!values[i].empty()) std::memcpy(text, values[i].data(), values[i].size());
      new (&out_views[i]) std::string_view(text, values[i].size());
      text += values[i].size();
    } else {
      new (&out_views[i]) std::string_view(values[i]);
    }
  }
  if (index_bytes) {
    auto* index = reinterpret_cast<std::uint32_t*>(block_.get() + views_bytes);
    for (std::uint32_t i = 0; i < size_; ++i) index[i] = i;
    std::sort(index, index + size_, [&](std::uint32_t a, std::uint32_t b) { return out_views[a] < out_views[b]; });
  }
}

StringSet::StringSet(std::vector<std::string> values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  build(views, true);
}

StringSet StringSet::borrowing(std::vector<std::string_view> values) {
  StringSet s;
  s.build(values, false);
  return s;
}

StringSet::StringSet(const StringSet& other) { build(other.values(), other.owns_); }

StringSet& StringSet::operator=(const StringSet& other) {
  if (this != &other) *this = StringSet(other);
  return *this;
}

bool StringSet::contains(std::string_view value) const noexcept {
  const std::string_view* v = views();
  const std::uint32_t* index = sorted();
  if (!index) {
    for (std::uint32_t i = 0; i < size_; ++i)
      if (v[i] == value) return true;
    return false;
  }
  const auto it = std::lower_bound(index, index + size_, value,
                                   [&](std::uint32_t i, std::string_view x) { return v[i] < x; });
  return it != index + size_ && v[*it] == value;
}

}  // namespace postern::core
