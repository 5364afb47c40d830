#pragma once
// An immutable list of strings with a sorted index beside it: membership in O(log n) without allocating, the order
// given kept for whoever prints the list. What policy evaluation asks of a user's groups or of a list-valued claim.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern::core {

class StringSet {
 public:
  StringSet() = default;
  explicit StringSet(std::vector<std::string> values);

  [[nodiscard]] bool contains(std::string_view value) const noexcept;
  // How many values were given (duplicates counted).
  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
  [[nodiscard]] bool empty() const noexcept { return values_.empty(); }
  // In the order given.
  [[nodiscard]] std::span<const std::string> values() const noexcept { return values_; }

 private:
  std::vector<std::string> values_;
  std::vector<std::uint32_t> sorted_;  // indices into values_, ordered by value
};

}  // namespace postern::core
