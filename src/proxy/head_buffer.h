#pragma once
// The bytes of a message head being written, kept per connection and reused by every request on it. Appending is
// inline — one bounds check and a copy, no zero-filling and no out-of-line call per piece — because a relayed
// request writes two heads of a dozen headers each. Its size is bounded by what goes in: a received head (at most
// header_limit) plus the headers Postern adds. Internal to the proxy module.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace postern::proxy {

class HeadBuffer {
 public:
  void clear() noexcept { size_ = 0; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  HeadBuffer& operator+=(std::string_view s) {
    reserve(s.size());
    if (!s.empty()) std::memcpy(data_.get() + size_, s.data(), s.size());
    size_ += s.size();
    return *this;
  }
  HeadBuffer& operator+=(char c) {
    reserve(1);
    data_[size_++] = c;
    return *this;
  }

 private:
  void reserve(std::size_t n) {
    if (capacity_ - size_ < n) [[unlikely]] grow(n);
  }
  void grow(std::size_t n) {
    const std::size_t capacity = std::max({std::size_t{1024}, capacity_ * 2, size_ + n});
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace postern::proxy
